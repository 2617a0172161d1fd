//! Issue 15 item 2 against real processes: `MESOS_HTTPS` and Marathon's `HTTPS` health checks
//! speak TLS to a task serving a self-signed certificate (made here with rcgen) and accept it,
//! as Mesos and Marathon did, so the task becomes healthy.

use crate::support;

use serde_json::json;
use support::{Cluster, READY_TIMEOUT, wait_until};

/// A Python HTTPS server on `$PORT0` with the given certificate and key files.
fn https_server_cmd(cert: &std::path::Path, key: &std::path::Path) -> String {
    let script = format!(
        "import http.server, os, ssl\n\
         s = http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT0'])), http.server.SimpleHTTPRequestHandler)\n\
         c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
         c.load_cert_chain('{}', '{}')\n\
         s.socket = c.wrap_socket(s.socket, server_side=True)\n\
         s.serve_forever()\n",
        cert.display(),
        key.display()
    );
    format!("exec {} -c \"$SCRIPT\"", support::python().display())
        .replace("$SCRIPT", &script.replace('"', "\\\""))
}

#[test]
fn https_health_checks_accept_a_self_signed_certificate() {
    let cluster = Cluster::start(true);
    let dir = tempfile::tempdir().expect("temp dir");
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, key.cert.pem()).unwrap();
    std::fs::write(&key_path, key.key_pair.serialize_pem()).unwrap();
    let cmd = https_server_cmd(&cert_path, &key_path);
    for (id, protocol) in [("/tls-mesos", "MESOS_HTTPS"), ("/tls-marathon", "HTTPS")] {
        let app = json!({
            "id": id, "cmd": cmd, "cpus": 0.1, "mem": 64, "instances": 1,
            "portDefinitions": [{"port": 0}],
            "healthChecks": [{
                "protocol": protocol, "portIndex": 0, "path": "/",
                "gracePeriodSeconds": 60, "intervalSeconds": 1, "timeoutSeconds": 1,
                "delaySeconds": 0, "maxConsecutiveFailures": 0
            }]
        });
        let (status, body) = cluster.marathon_request("POST", "/v2/apps", Some(&app));
        assert_eq!(status, 201, "{body}");
    }
    let port = cluster.marathon_port;
    for id in ["tls-mesos", "tls-marathon"] {
        wait_until(&format!("{id} healthy over TLS"), READY_TIMEOUT, || {
            support::get_json(port, &format!("/v2/apps/{id}"))
                .is_some_and(|a| a["app"]["tasksHealthy"] == 1)
        });
    }
}
