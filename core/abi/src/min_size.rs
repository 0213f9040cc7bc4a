//! The sizes of the 1.0 structs on this target: the smallest `struct_size` a host of
//! this major accepts. When a minor version grows a struct, these stay as they are.
use crate::*;
use core::mem::{offset_of, size_of};
pub const DESCRIPTOR: u32 = size_of::<SlPluginDescriptor>() as u32;
pub const INPUT_VTABLE: u32 = size_of::<SlInputVtable>() as u32;
pub const FILTER_VTABLE: u32 = size_of::<SlFilterVtable>() as u32;
pub const OUTPUT_VTABLE: u32 = offset_of!(SlOutputVtable, check) as u32;
pub const RECORD: u32 = size_of::<SlRecord>() as u32;
pub const HOST_API: u32 = offset_of!(SlHostApi, dead_letter) as u32;
pub const EDIT_API: u32 = size_of::<SlEditApi>() as u32;
pub const PAYLOAD: u32 = size_of::<SlPayload>() as u32;
