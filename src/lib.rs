//! beian-audit: checks that filed websites display their ICP filing number
//! the way China's 备案 rules require.

pub mod browser;
pub mod filing;
pub mod input;
pub mod page;
pub mod rules;
pub mod targets;
