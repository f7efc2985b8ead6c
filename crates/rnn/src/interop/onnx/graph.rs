//! A small builder over the generated ONNX types: named initializers, nodes
//! with attributes, and typed graph inputs and outputs.

use super::proto::attribute_proto::AttributeType;
use super::proto::tensor_proto::DataType;
use super::proto::tensor_shape_proto::{dimension, Dimension};
use super::proto::{
    type_proto, AttributeProto, GraphProto, NodeProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};

/// One dimension of a graph input or output: a number, or a name a runtime
/// binds at run time (`T`, `B`).
#[derive(Clone, Copy, Debug)]
pub(super) enum Dim {
    Fixed(usize),
    Named(&'static str),
}

/// An element type of the tensors this exporter declares.
#[derive(Clone, Copy, Debug)]
pub(super) enum Elem {
    F32,
    I64,
}

impl Elem {
    fn code(self) -> i32 {
        match self {
            Elem::F32 => DataType::Float as i32,
            Elem::I64 => DataType::Int64 as i32,
        }
    }
}

/// An ONNX attribute value.
pub(super) enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Str(&'static str),
    Strs(Vec<&'static str>),
}

/// The graph under construction, in the order ONNX wants: nodes are added
/// after the values they read (a topological order by construction).
#[derive(Default)]
pub(super) struct Graph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
}

fn value_info(name: &str, elem: Elem, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match *d {
                Dim::Fixed(n) => dimension::Value::DimValue(n as i64),
                Dim::Named(s) => dimension::Value::DimParam(s.to_string()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.to_string()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem.code()),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn tensor(name: &str, dims: &[usize], elem: Elem, raw: Vec<u8>) -> TensorProto {
    TensorProto {
        name: Some(name.to_string()),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: Some(elem.code()),
        // little-endian bytes, as ONNX's raw_data is defined
        raw_data: Some(raw),
        ..Default::default()
    }
}

impl Graph {
    /// Declares a graph input.
    pub fn input(&mut self, name: &str, elem: Elem, dims: &[Dim]) {
        self.inputs.push(value_info(name, elem, dims));
    }

    /// Declares a graph output (a value some node computes).
    pub fn output(&mut self, name: &str, elem: Elem, dims: &[Dim]) {
        self.outputs.push(value_info(name, elem, dims));
    }

    /// A float32 initializer (row-major `data` of shape `dims`); returns its name.
    pub fn f32(&mut self, name: &str, dims: &[usize], data: &[f32]) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), data.len(), "{name}");
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(tensor(name, dims, Elem::F32, raw));
        name.to_string()
    }

    /// An int64 initializer; returns its name.
    pub fn i64(&mut self, name: &str, dims: &[usize], data: &[i64]) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), data.len(), "{name}");
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(tensor(name, dims, Elem::I64, raw));
        name.to_string()
    }

    /// A node of the default domain reading `inputs` (`""` for an omitted
    /// optional input) and writing `outputs`, named after its first output.
    pub fn node(&mut self, op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<(&str, Attr)>) {
        let attribute = attrs
            .into_iter()
            .map(|(name, a)| {
                let mut p = AttributeProto {
                    name: Some(name.to_string()),
                    ..Default::default()
                };
                let t = match a {
                    Attr::Int(v) => {
                        p.i = Some(v);
                        AttributeType::Int
                    }
                    Attr::Ints(v) => {
                        p.ints = v;
                        AttributeType::Ints
                    }
                    Attr::Str(s) => {
                        p.s = Some(s.as_bytes().to_vec());
                        AttributeType::String
                    }
                    Attr::Strs(v) => {
                        p.strings = v.iter().map(|s| s.as_bytes().to_vec()).collect();
                        AttributeType::Strings
                    }
                };
                p.r#type = Some(t as i32);
                p
            })
            .collect();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            name: outputs.first().map(|s| s.to_string()),
            op_type: Some(op.to_string()),
            attribute,
            ..Default::default()
        });
    }

    /// The finished graph.
    pub fn build(self, name: &str, doc: String) -> GraphProto {
        GraphProto {
            node: self.nodes,
            name: Some(name.to_string()),
            initializer: self.initializers,
            doc_string: Some(doc),
            input: self.inputs,
            output: self.outputs,
            ..Default::default()
        }
    }
}
