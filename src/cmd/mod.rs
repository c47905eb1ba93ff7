pub mod generate;
pub mod scenarios;
