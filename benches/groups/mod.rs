pub mod plugin_call;
pub mod nf4_linear;
