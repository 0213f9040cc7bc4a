//! The end-to-end tests, one module per area, built as one test binary: linking
//! every file as a binary of its own took most of the suite's build time. Run one
//! area with `scripts/test --test suite relp::` (a module path filters the tests).

mod asa;
mod azure;
mod azure_deploy;
mod azure_first_hour;
mod azure_linger;
mod azure_proxy_agent_line;
mod azure_proxy_secrets;
mod azure_template;
mod chaos;
mod check_config;
mod cli;
mod corpus;
mod dead_letter;
mod device_headers;
mod docs;
mod faults_connections;
mod faults_disk;
mod faults_instance;
mod faults_journal;
mod faults_watchdog;
mod file_output;
mod filters;
mod first_hour;
mod journal;
mod limits;
mod metrics_http;
mod migrate_omsagent;
mod outage;
mod packages;
mod pipeline;
mod plugins;
mod reload;
mod relp;
mod senders;
mod service;
mod setup;
mod state_format;
mod syslane_away;
mod syslog_daemons;
mod udp_drops;
mod unix_socket;
