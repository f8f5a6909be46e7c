pub mod plugin_call;
