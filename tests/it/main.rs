//! The integration tests, as one binary: one module per subject, sharing the helpers in
//! [`common`] (the servers, the CLI, deliveries and stores) and one demo store built per test
//! run. The process-level kill tests are the other binary, `tests/kill`.

mod common;

mod access_rules;
mod access_server;
mod admin;
mod audit_server;
mod avisering;
mod avisering_files;
mod certs_index;
mod cli_load;
mod cli_register;
mod fuzz_props;
mod hostile;
mod listener;
mod load_faults;
mod load_job;
mod log_privacy;
mod maintenance;
mod namnsokning_server;
mod navet_contract;
mod privacy_props;
mod rotation;
mod soap_server;
mod spar;
mod tls_policy;
mod urval;
mod wsdl_samples;
