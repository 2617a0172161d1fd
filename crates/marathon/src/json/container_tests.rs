//! `container` and `networks` in app JSON: both API generations read to the same model, the
//! Marathon 1.10 rendering (golden), merges, the store round trip, and every refusal by path.

use drover_core::marathon::container::{AppContainer, Network};
use serde_json::{Value, json};

use super::app::{Mode, app_json, parse_app};

fn paths(body: Value) -> Vec<(String, String)> {
    parse_app(&body, None, Mode::Full)
        .expect_err("refused")
        .into_iter()
        .map(|v| (v.path, v.message))
        .collect()
}

fn assert_refused(body: Value, path: &str, words: &str) {
    let problems = paths(body);
    assert!(
        problems.iter().any(|(p, m)| p == path && m.contains(words)),
        "{path} / {words:?} not in {problems:?}"
    );
}

/// Marathon 1.10's `docs/docs/networking.md` bridged example, with a volume and a parameter.
fn bridged_1_10() -> Value {
    json!({
        "id": "/bridged-webapp",
        "cmd": "python3 -m http.server 8080",
        "cpus": 0.5, "mem": 64, "instances": 2,
        "networks": [{"mode": "container/bridge"}],
        "container": {
            "type": "DOCKER",
            "docker": {"image": "python:3", "forcePullImage": true,
                       "parameters": [{"key": "label", "value": "team=web"}]},
            "volumes": [{"containerPath": "/data", "hostPath": "/srv/data", "mode": "RO"}],
            "portMappings": [
                {"containerPort": 8080, "hostPort": 0, "servicePort": 9000, "protocol": "tcp",
                 "name": "http", "labels": {"VIP_0": "web:80"}},
                {"containerPort": 161, "servicePort": 9001, "protocol": "udp"}
            ]
        }
    })
}

#[test]
fn a_bridged_docker_app_renders_as_marathon_1_10_shows_it() {
    let app = parse_app(&bridged_1_10(), None, Mode::Full).expect("valid");
    let out = app_json(&app);
    assert_eq!(
        out["container"],
        json!({
            "type": "DOCKER",
            "docker": {"forcePullImage": true, "image": "python:3",
                       "parameters": [{"key": "label", "value": "team=web"}],
                       "privileged": false},
            "volumes": [{"containerPath": "/data", "hostPath": "/srv/data", "mode": "RO"}],
            "portMappings": [
                {"containerPort": 8080, "hostPort": 0, "labels": {"VIP_0": "web:80"},
                 "name": "http", "protocol": "tcp", "servicePort": 9000},
                // A bridge mapping without hostPort takes any port (Marathon's normalization).
                {"containerPort": 161, "hostPort": 0, "labels": {}, "protocol": "udp",
                 "servicePort": 9001}
            ]
        })
    );
    assert_eq!(out["networks"], json!([{"mode": "container/bridge"}]));
    assert!(
        out.get("portDefinitions").is_none(),
        "no portDefinitions with container networking: {out:?}"
    );
    assert_eq!(out["requirePorts"], false);
    assert_eq!(app.service_ports(), vec![9000, 9001]);
    assert_eq!(app.host_port_requests(), vec![0, 0]);
}

#[test]
fn marathon_1_4_spellings_normalize_to_the_same_app() {
    let legacy = json!({
        "id": "/bridged-webapp",
        "cmd": "python3 -m http.server 8080",
        "cpus": 0.5, "mem": 64, "instances": 2,
        "container": {
            "type": "DOCKER",
            "docker": {"image": "python:3", "forcePullImage": true, "network": "BRIDGE",
                       "parameters": [{"key": "label", "value": "team=web"}],
                       "portMappings": [
                {"containerPort": 8080, "hostPort": 0, "servicePort": 9000, "protocol": "tcp",
                 "name": "http", "labels": {"VIP_0": "web:80"}},
                {"containerPort": 161, "servicePort": 9001, "protocol": "udp"}
            ]},
            "volumes": [{"containerPath": "/data", "hostPath": "/srv/data", "mode": "RO"}]
        }
    });
    let old = parse_app(&legacy, None, Mode::Full).expect("valid");
    let new = parse_app(&bridged_1_10(), None, Mode::Full).expect("valid");
    assert_eq!(old, new);
    let out = app_json(&old);
    assert!(out["container"]["docker"].get("network").is_none());
    assert!(out["container"]["docker"].get("portMappings").is_none());

    let host = json!({"id": "h", "cmd": "x",
        "container": {"type": "DOCKER", "docker": {"image": "busybox", "network": "HOST"}}});
    let host = parse_app(&host, None, Mode::Full).expect("valid");
    assert_eq!(host.docker().expect("docker").network, Network::Host);
    let out = app_json(&host);
    assert_eq!(out["networks"], json!([{"mode": "host"}]));
    assert!(out["container"].get("portMappings").is_none());
    assert_eq!(
        out["portDefinitions"][0]["port"], 0,
        "host apps keep portDefinitions"
    );
}

#[test]
fn container_networks_without_mappings_get_marathons_default_and_ports_become_mappings() {
    let app = parse_app(
        &json!({"id": "a", "networks": [{"mode": "container/bridge"}],
                "container": {"type": "DOCKER", "docker": {"image": "nginx"}}}),
        None,
        Mode::Full,
    )
    .expect("valid");
    let docker = app.docker().expect("docker");
    assert_eq!(docker.port_mappings.len(), 1);
    assert_eq!(docker.port_mappings[0].host_port, Some(0));
    assert!(app.port_definitions.is_empty());
    // A 1.4 client's `ports` next to BRIDGE: dropped, and mappings padded to match.
    let app = parse_app(
        &json!({"id": "a", "ports": [0, 0],
                "container": {"type": "DOCKER", "docker": {"image": "nginx", "network": "BRIDGE",
                    "portMappings": [{"containerPort": 80}]}}}),
        None,
        Mode::Full,
    )
    .expect("valid");
    assert_eq!(app.docker().expect("docker").port_mappings.len(), 2);
    assert!(app.port_definitions.is_empty());
    // A named network: mappings need not be published on the host.
    let app = parse_app(
        &json!({"id": "a", "networks": [{"mode": "container", "name": "overlay"}],
                "container": {"type": "DOCKER", "docker": {"image": "nginx"},
                    "portMappings": [{"containerPort": 80}]}}),
        None,
        Mode::Full,
    )
    .expect("valid");
    assert_eq!(
        app.docker().expect("docker").network,
        Network::User("overlay".into())
    );
    assert_eq!(app.host_port_requests(), Vec::<u32>::new());
    assert_eq!(
        app_json(&app)["networks"],
        json!([{"mode": "container", "name": "overlay"}])
    );
}

#[test]
fn the_store_round_trip_and_merges_keep_the_container() {
    let app = parse_app(&bridged_1_10(), None, Mode::Full).expect("valid");
    let stored = Value::Object(app_json(&app));
    let back = parse_app(&stored, None, Mode::Stored).expect("stored app reads back");
    assert_eq!(back.container, app.container);
    assert_eq!(back.port_definitions, app.port_definitions);

    // A PUT of only the image keeps the bridge network and the mappings' ports.
    let update = json!({"container": {"type": "DOCKER", "docker": {"image": "python:3.12"},
        "portMappings": [{"containerPort": 8080, "hostPort": 0, "servicePort": 9000}]}});
    let merged = parse_app(&update, None, Mode::Merge(&app)).expect("valid");
    let docker = merged.docker().expect("docker");
    assert_eq!(docker.image, "python:3.12");
    assert_eq!(docker.network, Network::Bridge);
    assert!(app.is_upgrade_to(&merged), "an image change restarts tasks");
    // A PUT of only instances keeps everything.
    let merged = parse_app(&json!({"instances": 5}), None, Mode::Merge(&app)).expect("valid");
    assert_eq!(merged.container, app.container);
    // A PUT of networks alone moves the same container to the host network.
    let merged = parse_app(
        &json!({"networks": [{"mode": "host"}], "portDefinitions": []}),
        None,
        Mode::Merge(&app),
    );
    let problems = merged.expect_err("host networking with mappings is refused");
    assert_eq!(problems[0].path, "/container/portMappings");
    // Clearing the container alone would leave a bridge network without one: refused.
    let problems = parse_app(&json!({"container": null}), None, Mode::Merge(&app))
        .expect_err("no container on a bridge");
    assert_eq!(problems[0].path, "/networks");
    // Clearing it with the host network makes a command app again.
    let merged = parse_app(
        &json!({"container": null, "networks": [{"mode": "host"}], "cmd": "sleep 1"}),
        None,
        Mode::Merge(&app),
    )
    .expect("valid");
    assert_eq!(merged.container, None);
}

#[test]
fn a_mesos_container_without_an_image_is_a_command_on_the_host() {
    let app = parse_app(
        &json!({"id": "m", "cmd": "sleep 1", "container": {"type": "MESOS"}}),
        None,
        Mode::Full,
    )
    .expect("valid");
    assert_eq!(app.container, Some(AppContainer::Mesos));
    assert_eq!(
        app_json(&app)["container"],
        json!({"type": "MESOS", "volumes": []})
    );
}

#[test]
fn what_drover_cannot_run_is_refused_by_name() {
    let docker = |extra: Value| {
        let mut c = json!({"type": "DOCKER", "docker": {"image": "busybox"}});
        for (k, v) in extra.as_object().expect("object") {
            c[k] = v.clone();
        }
        json!({"id": "a", "cmd": "x", "container": c})
    };
    assert_refused(
        docker(json!({"volumes": [{"containerPath": "/d", "hostpath": "/srv", "mode": "RW"}]})),
        "/container/volumes/0/hostpath",
        "unknown field of a volume",
    );
    assert_refused(
        docker(json!({"volumes": [{"containerPath": "s", "secret": "db"}]})),
        "/container/volumes",
        "secret volumes are supported in containers of type MESOS only",
    );
    assert_refused(
        json!({"id": "a", "cmd": "x", "secrets": {"db": {"source": "s"}},
               "container": {"type": "MESOS", "volumes": [{"containerPath": "/etc/pw", "secret": "db"}]}}),
        "/container/volumes/0/containerPath",
        "relative to the sandbox",
    );
    assert_refused(
        json!({"id": "a", "cmd": "x",
               "container": {"type": "MESOS", "volumes": [{"containerPath": "pw", "secret": "db"}]}}),
        "/container/volumes",
        "undefined secret named 'db'",
    );
    assert_refused(
        docker(json!({"volumes": [{"containerPath": "/s", "hostPath": "srv", "mode": "RW"}]})),
        "/container/volumes/0/hostPath",
        "must be absolute",
    );
    assert_refused(
        docker(json!({"docker": {"image": "busybox", "pullConfig": {"secret": "s"}}})),
        "/container/docker/pullConfig",
        "not supported",
    );
    assert_refused(
        docker(json!({"docker": {"image": "Not An Image"}})),
        "/container/docker/image",
        "",
    );
    assert_refused(
        docker(json!({"docker": {"image": "busybox",
                                  "parameters": [{"key": "pid", "value": "host"}]}})),
        "/container/docker/parameters/0/key",
        "leave its container",
    );
    assert_refused(
        docker(json!({"docker": {"image": "busybox", "network": "NONE"}})),
        "/container/docker/network",
        "unsupported docker network type NONE",
    );
    assert_refused(
        docker(json!({"docker": {"image": "busybox", "network": "USER"}})),
        "/container/docker/network",
        "networks",
    );
    assert_refused(docker(json!({"bogus": 1})), "/container/bogus", "unknown");
    assert_refused(
        json!({"id": "a", "cmd": "x", "container": {"type": "MESOS",
               "appc": {"image": "coreos.com/etcd"}}}),
        "/container/appc",
        "AppC",
    );
    assert_refused(
        json!({"id": "a", "cmd": "x", "networks": [{"mode": "container/bridge"}]}),
        "/networks",
        "DOCKER",
    );
    assert_refused(
        json!({"id": "a", "cmd": "x", "networks": [{"mode": "container"}],
               "container": {"type": "DOCKER", "docker": {"image": "busybox"}}}),
        "/networks/0/name",
        "needs a name",
    );
    assert_refused(
        json!({"id": "a", "cmd": "x", "networks": [{"mode": "host"}, {"mode": "host"}]}),
        "/networks",
        "one network",
    );
    assert_refused(
        json!({"id": "a", "cmd": "x", "container": {"type": "DOCKER"}}),
        "/container/docker",
        "missing",
    );
    assert_refused(
        json!({"id": "a", "cmd": "x", "env": {"PW": {"secret": "db"}}}),
        "/env/PW",
        "undefined secret named 'db'",
    );
    assert_refused(
        json!({"id": "a", "cmd": "x", "secrets": {"db": {"source": ""}}}),
        "/secrets/db",
        "source",
    );
    assert_refused(
        json!({"id": "a", "cmd": "x", "secrets": {"db": {"source": "s", "key": "k"}}}),
        "/secrets/db",
        "source",
    );
    assert_refused(
        json!({"id": "a", "cmd": "x", "residency": {"taskLostBehavior": "WAIT_FOREVER"}}),
        "/residency",
        "persistent volumes",
    );
    assert_refused(
        docker(json!({"portMappings": [{"containerPort": 80}],
                      "docker": {"image": "busybox", "portMappings": [{"containerPort": 81}]}})),
        "/container/portMappings",
        "both",
    );
    assert_refused(
        docker(json!({"linuxInfo": {"seccomp": {"unconfined": true}}})),
        "/container/linuxInfo",
        "not supported",
    );
    assert_refused(
        docker(json!({"volumes": [{"containerPath": "/e", "mode": "RW",
                                    "external": {"name": "v"}}]})),
        "/container/volumes/0/external",
        "external volumes",
    );
    assert_refused(
        json!({"id": "a", "cmd": "x", "container": {"type": "MESOS",
               "volumes": [{"containerPath": "/d", "hostPath": "/srv", "mode": "RW"}]}}),
        "/container/volumes",
        "need an image",
    );
    assert_refused(
        json!({"id": "a", "cmd": "x", "ipAddress": {"networkName": "dcos"}}),
        "/ipAddress",
        "networks",
    );
    assert_refused(
        json!({"id": "a", "cmd": "x", "networks": [{"mode": "container/bridge",
               "labels": {"a": "b"}}],
               "container": {"type": "DOCKER", "docker": {"image": "busybox"}}}),
        "/networks/0/labels",
        "not supported",
    );
    // Empty or null values of refused fields are what many clients send: accepted.
    parse_app(
        &json!({"id": "a", "cmd": "x", "secrets": {}, "residency": null, "ipAddress": null,
                "container": {"type": "DOCKER", "docker": {"image": "busybox",
                    "pullConfig": null}}}),
        None,
        Mode::Full,
    )
    .expect("nulls and empties are accepted");
}

#[test]
fn a_docker_app_without_cmd_or_args_is_valid() {
    let app = parse_app(
        &json!({"id": "a", "container": {"type": "DOCKER", "docker": {"image": "nginx"}}}),
        None,
        Mode::Full,
    )
    .expect("the image's entrypoint runs");
    assert!(app.cmd.is_none() && app.args.is_empty());
    assert_refused(
        json!({"id": "a", "container": {"type": "MESOS"}}),
        "/",
        "cmd",
    );
}

#[test]
fn privileged_and_require_ports_follow_marathon() {
    let app = parse_app(
        &json!({"id": "a", "requirePorts": true, "networks": [{"mode": "container/bridge"}],
                "container": {"type": "DOCKER",
                              "docker": {"image": "busybox", "privileged": true}}}),
        None,
        Mode::Full,
    )
    .expect("valid");
    assert!(app.docker().expect("docker").privileged);
    let out = app_json(&app);
    assert_eq!(out["container"]["docker"]["privileged"], true);
    // requirePorts applies to host networking only (Marathon 1.10 normalizes it to false).
    assert_eq!(out["requirePorts"], false);
}

#[test]
fn a_stored_app_from_before_containers_were_typed_still_loads() {
    // Before, `networks` and `secrets` were kept verbatim and not acted on; such a stored app
    // must not keep the scheduler from starting.
    let old = json!({"id": "/old", "cmd": "sleep 1", "networks": [{"mode": "container/bridge"}],
                     "secrets": {"s": {"source": "x"}},
                     "portDefinitions": [{"port": 10000, "protocol": "tcp"}]});
    let app = parse_app(&old, None, Mode::Stored).expect("loads");
    assert_eq!(app.container, None);
    assert_eq!(app.service_ports(), vec![10000]);
    // The same body as a request is refused.
    assert!(parse_app(&old, None, Mode::Full).is_err());
}

/// Secrets (issue 15 item 6): `secrets` and `{"secret": id}` environment values are read into
/// the app, rendered back as given (references only: the values live in the agents' store),
/// and survive the store's round trip.
#[test]
fn secret_references_round_trip() {
    let body = json!({"id": "/s", "cmd": "x",
        "env": {"PLAIN": "v", "PW": {"secret": "db"}},
        "secrets": {"db": {"source": "prod/db-password"}},
        "container": {"type": "MESOS", "volumes": [{"containerPath": "conf/pw", "secret": "db"}]}});
    let app = parse_app(&body, None, Mode::Full).expect("accepted");
    assert_eq!(app.env_secrets.get("PW").map(String::as_str), Some("db"));
    assert_eq!(
        app.secrets.get("db").map(String::as_str),
        Some("prod/db-password")
    );
    let rendered = app_json(&app);
    assert_eq!(
        rendered["env"],
        json!({"PLAIN": "v", "PW": {"secret": "db"}})
    );
    assert_eq!(
        rendered["secrets"],
        json!({"db": {"source": "prod/db-password"}})
    );
    assert_eq!(
        rendered["container"],
        json!({"type": "MESOS", "volumes": [{"containerPath": "conf/pw", "secret": "db"}]})
    );
    let stored =
        parse_app(&Value::Object(rendered), None, Mode::Stored).expect("stored form reads back");
    assert_eq!(stored.env_secrets, app.env_secrets);
    assert_eq!(stored.secrets, app.secrets);
    assert_eq!(stored.secret_volumes, app.secret_volumes);
}

/// A MESOS container with `docker.image` (Marathon 1.10's `MesosDocker`, the Mesos
/// containerizer's images).
fn ucr_1_10() -> Value {
    json!({
        "id": "/ucr",
        "cpus": 0.1, "mem": 32,
        "secrets": {"registry": {"source": "prod/docker-config"}},
        "container": {
            "type": "MESOS",
            "docker": {"image": "busybox:1", "forcePullImage": true,
                       "pullConfig": {"secret": "registry"}},
            "volumes": [{"containerPath": "/etc/app", "hostPath": "/srv/app", "mode": "RO"},
                        {"containerPath": "cache", "hostPath": "/var/cache/app"}]
        }
    })
}

#[test]
fn a_mesos_container_with_an_image_reads_renders_and_round_trips() {
    use drover_core::marathon::container::{MesosDockerContainer, Volume};
    let app = parse_app(&ucr_1_10(), None, Mode::Full).expect("the image's entrypoint runs");
    let mut want = MesosDockerContainer::new("busybox:1");
    want.force_pull_image = true;
    want.pull_config = Some("registry".into());
    want.volumes = vec![
        Volume {
            container_path: "/etc/app".into(),
            host_path: "/srv/app".into(),
            read_only: true,
        },
        Volume {
            container_path: "cache".into(),
            host_path: "/var/cache/app".into(),
            read_only: false,
        },
    ];
    assert_eq!(
        app.container,
        Some(AppContainer::MesosDocker(Box::new(want)))
    );
    assert!(app.cmd.is_none() && app.args.is_empty());
    // On the host network: the ports stay portDefinitions.
    assert_eq!(app.port_definitions.len(), 1);
    let out = app_json(&app);
    assert_eq!(
        out["container"],
        json!({
            "type": "MESOS",
            "docker": {"forcePullImage": true, "image": "busybox:1", "parameters": [],
                       "privileged": false, "pullConfig": {"secret": "registry"}},
            "volumes": [{"containerPath": "/etc/app", "hostPath": "/srv/app", "mode": "RO"},
                        {"containerPath": "cache", "hostPath": "/var/cache/app", "mode": "RW"}]
        })
    );
    assert_eq!(out["networks"], json!([{"mode": "host"}]));

    // What GET shows is accepted back as it is, by a client and by the store.
    let shown = Value::Object(out);
    assert_eq!(
        parse_app(&shown, None, Mode::Full)
            .expect("a request")
            .container,
        app.container
    );
    let stored = parse_app(&shown, None, Mode::Stored).expect("the store");
    assert_eq!(stored.container, app.container);
    // A PUT of only the networks keeps the container; one of the image changes it.
    let merged = parse_app(
        &json!({"networks": [{"mode": "host"}]}),
        None,
        Mode::Merge(&app),
    )
    .expect("valid");
    assert_eq!(merged.container, app.container);
    let merged = parse_app(
        &json!({"container": {"type": "MESOS", "docker": {"image": "busybox:2"}}}),
        None,
        Mode::Merge(&app),
    )
    .expect("valid");
    assert!(app.is_upgrade_to(&merged), "an image change restarts tasks");
    // The body's container replaces the whole of the current one.
    let Some(AppContainer::MesosDocker(image)) = &merged.container else {
        panic!("a MESOS image: {:?}", merged.container);
    };
    assert_eq!(
        (
            image.image.as_str(),
            image.force_pull_image,
            image.volumes.len()
        ),
        ("busybox:2", false, 0)
    );

    // Secret volumes sit next to the host-path ones, after them.
    let mut body = ucr_1_10();
    body["container"]["volumes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"containerPath": "conf/pw", "secret": "registry"}));
    let app = parse_app(&body, None, Mode::Full).expect("valid");
    assert_eq!(
        app.secret_volumes,
        vec![("conf/pw".to_owned(), "registry".to_owned())]
    );
    let out = app_json(&app);
    assert_eq!(
        out["container"]["volumes"][2],
        json!({"containerPath": "conf/pw", "secret": "registry"})
    );
    assert_eq!(
        parse_app(&Value::Object(out), None, Mode::Stored)
            .expect("the store")
            .secret_volumes,
        app.secret_volumes
    );
}

#[test]
fn a_mesos_containers_docker_takes_only_what_the_mesos_containerizer_does() {
    let ucr = |docker: Value| {
        json!({"id": "a", "cmd": "x", "secrets": {"s": {"source": "x"}},
               "container": {"type": "MESOS", "docker": docker}})
    };
    for (key, value, words) in [
        ("network", json!("BRIDGE"), "host network"),
        ("privileged", json!(true), "type DOCKER"),
        (
            "parameters",
            json!([{"key": "label", "value": "a=b"}]),
            "docker run options",
        ),
        (
            "portMappings",
            json!([{"containerPort": 80}]),
            "portDefinitions",
        ),
        ("credential", json!({"principal": "p"}), "pullConfig"),
        ("frobnicate", json!(1), "unknown field of docker"),
    ] {
        let mut docker = json!({"image": "busybox"});
        docker[key] = value;
        assert_refused(ucr(docker), &format!("/container/docker/{key}"), words);
    }
    // What Marathon renders for them (their defaults) is not a value.
    parse_app(
        &ucr(
            json!({"image": "busybox", "privileged": false, "parameters": [],
                    "network": null, "portMappings": [], "credential": null}),
        ),
        None,
        Mode::Full,
    )
    .expect("defaults are accepted");
    assert_refused(
        ucr(json!({"image": "Not An Image"})),
        "/container/docker/image",
        "invalid image reference",
    );
    assert_refused(ucr(json!({})), "/container/docker/image", "missing");
    assert_refused(
        ucr(json!({"image": "busybox", "pullConfig": {"secret": "nope"}})),
        "/container/docker/pullConfig/secret",
        "undefined secret named 'nope'",
    );
    assert_refused(
        ucr(json!({"image": "busybox", "pullConfig": {}})),
        "/container/docker/pullConfig/secret",
        "missing",
    );
    assert_refused(
        ucr(json!({"image": "busybox", "pullConfig": {"secret": "s", "x": 1}})),
        "/container/docker/pullConfig/x",
        "not a field",
    );
    // On the host network the ports are portDefinitions, image or not.
    for docker in [json!({"image": "busybox"}), Value::Null] {
        let mut body = ucr(docker);
        body["container"]["portMappings"] = json!([{"containerPort": 80, "hostPort": 0}]);
        assert_refused(body, "/container/portMappings", "host networking");
    }
    let mut body = ucr(json!({"image": "busybox"}));
    body["networks"] = json!([{"mode": "container/bridge"}]);
    assert_refused(body, "/networks", "DOCKER");
    let mut body = ucr(json!({"image": "busybox"}));
    body["container"]["volumes"] = json!([{"containerPath": "../up", "hostPath": "/srv", "mode": "RW"},
               {"containerPath": "/d", "hostPath": "srv", "mode": "RW"}]);
    assert_refused(body.clone(), "/container/volumes/0/containerPath", "'..'");
    assert_refused(body, "/container/volumes/1/hostPath", "absolute");
    // A terminal is the Mesos containerizer's, image or not.
    let mut body = ucr(json!({"image": "busybox"}));
    body["tty"] = json!(true);
    assert!(parse_app(&body, None, Mode::Full).expect("valid").tty);
    // Without an image, no cmd or args is still refused: nothing would run.
    assert_refused(
        json!({"id": "a", "container": {"type": "MESOS", "docker": null}}),
        "/",
        "cmd",
    );
}
