//! The fetcher against a real loopback HTTP server and real files: downloads, `output_file`,
//! the executable bit, each archive type, the cache, and every refusal (404, connection
//! refused, corrupt archives, `..` and escaping symlinks, unknown schemes, quota).

use crate::fetch_server;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use drover_agent::fetcher::{FetchRequest, Fetcher, FetcherConfig, Owner};
use drover_wire::v1::command_info::Uri;
use fetch_server::*;

fn fetcher(dir: &Path, cache_size: u64) -> Fetcher {
    Fetcher::new(FetcherConfig {
        cache_dir: dir.join("cache"),
        cache_size_bytes: cache_size,
        max_size_bytes: 64 << 20,
        timeout: Duration::from_secs(60),
    })
    .unwrap()
}

fn uri(value: &str) -> Uri {
    Uri {
        value: value.to_owned(),
        ..Default::default()
    }
}

async fn fetch(f: &Fetcher, uris: &[Uri], sandbox: &Path) -> Result<(), String> {
    f.fetch(FetchRequest {
        uris,
        sandbox,
        user: None,
        owner: None,
        quota_bytes: None,
    })
    .await
    .map_err(|e| e.to_string())
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.as_ref().display()))
}

fn mode(path: impl AsRef<Path>) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn http_download_output_file_and_executable() {
    let server = FileServer::start().await;
    server.put("dir/tool.sh", "#!/bin/sh\necho tool\n");
    server.put("data.txt", "payload");
    let tmp = tempfile::tempdir().unwrap();
    let f = fetcher(tmp.path(), 0);
    let sandbox = tmp.path().join("sandbox");
    let uris = [
        Uri {
            executable: Some(true),
            ..uri(&server.url("dir/tool.sh"))
        },
        Uri {
            output_file: Some("conf/renamed.txt".into()),
            ..uri(&server.url("data.txt"))
        },
    ];
    fetch(&f, &uris, &sandbox).await.unwrap();
    assert_eq!(read(sandbox.join("tool.sh")), "#!/bin/sh\necho tool\n");
    assert_eq!(mode(sandbox.join("tool.sh")), 0o755);
    assert_eq!(read(sandbox.join("conf/renamed.txt")), "payload");
    assert_ne!(mode(sandbox.join("conf/renamed.txt")) & 0o111, 0o111);
    assert!(!sandbox.join("data.txt").exists());
    let stderr = read(sandbox.join("stderr"));
    assert!(
        stderr.contains(&format!("Fetching URI '{}'", server.url("data.txt"))),
        "{stderr}"
    );
    assert!(stderr.contains("Fetched 2 URI(s)"), "{stderr}");
}

#[tokio::test]
async fn each_archive_type_is_extracted() {
    let server = FileServer::start().await;
    let files: &[(&str, &[u8], u32)] = &[
        ("app/bin/run", b"#!/bin/sh\n", 0o755),
        ("app/README", b"hi", 0o644),
    ];
    let tar = tar_of(files, &[("app/link", "README")]);
    let archives = [
        ("a.tar", tar.clone()),
        ("a.tar.gz", gzip(&tar)),
        ("a.tgz", gzip(&tar)),
        ("a.tar.bz2", bzip2(&tar)),
        ("a.tbz2", bzip2(&tar)),
        ("a.tar.xz", xz(&tar)),
        ("a.txz", xz(&tar)),
        ("a.zip", zip_of(files)),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let f = fetcher(tmp.path(), 0);
    for (name, bytes) in archives {
        server.put(name, bytes);
        let sandbox = tmp.path().join(format!("sb-{name}"));
        fetch(&f, &[uri(&server.url(name))], &sandbox)
            .await
            .unwrap();
        assert!(sandbox.join(name).exists(), "{name}: the archive stays");
        assert_eq!(read(sandbox.join("app/README")), "hi", "{name}");
        assert_eq!(mode(sandbox.join("app/bin/run")), 0o755, "{name}");
        if name != "a.zip" {
            assert_eq!(read(sandbox.join("app/link")), "hi", "{name}: symlink");
        }
        // extract=false leaves the archive alone.
        let plain = tmp.path().join(format!("plain-{name}"));
        let no_extract = Uri {
            extract: Some(false),
            ..uri(&server.url(name))
        };
        fetch(&f, &[no_extract], &plain).await.unwrap();
        assert!(!plain.join("app").exists(), "{name}: extract=false");
    }
    // A single gzipped file is decompressed beside itself.
    server.put("notes.txt.gz", gzip(b"unzipped"));
    let sandbox = tmp.path().join("sb-gz");
    fetch(&f, &[uri(&server.url("notes.txt.gz"))], &sandbox)
        .await
        .unwrap();
    assert_eq!(read(sandbox.join("notes.txt")), "unzipped");
}

#[tokio::test]
async fn cache_hit_does_not_download_again() {
    let server = FileServer::start().await;
    server.put("big.bin", vec![7u8; 1 << 20]);
    let tmp = tempfile::tempdir().unwrap();
    let f = fetcher(tmp.path(), 16 << 20);
    let cached = Uri {
        cache: Some(true),
        ..uri(&server.url("big.bin"))
    };
    for i in 0..3 {
        let sandbox = tmp.path().join(format!("sb{i}"));
        fetch(&f, std::slice::from_ref(&cached), &sandbox)
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(sandbox.join("big.bin")).unwrap().len(),
            1 << 20
        );
    }
    assert_eq!(
        server.requests("big.bin"),
        1,
        "later launches use the cache"
    );
    // Without `cache` every launch downloads.
    for i in 0..2 {
        let sandbox = tmp.path().join(format!("nc{i}"));
        fetch(&f, &[uri(&server.url("big.bin"))], &sandbox)
            .await
            .unwrap();
    }
    assert_eq!(server.requests("big.bin"), 3);
}

#[tokio::test]
async fn concurrent_launches_share_one_download() {
    let server = FileServer::start().await;
    server.put("shared.bin", vec![1u8; 4 << 20]);
    let tmp = tempfile::tempdir().unwrap();
    let f = std::sync::Arc::new(fetcher(tmp.path(), 64 << 20));
    let mut tasks = Vec::new();
    for i in 0..6 {
        let f = f.clone();
        let url = server.url("shared.bin");
        let sandbox = tmp.path().join(format!("sb{i}"));
        tasks.push(tokio::spawn(async move {
            let cached = Uri {
                cache: Some(true),
                ..uri(&url)
            };
            fetch(&f, &[cached], &sandbox).await.unwrap();
            std::fs::metadata(sandbox.join("shared.bin")).unwrap().len()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 4 << 20);
    }
    assert_eq!(server.requests("shared.bin"), 1);
}

#[tokio::test]
async fn failures_name_the_uri_and_the_cause() {
    let server = FileServer::start().await;
    server.put("broken.tar.gz", b"\x1f\x8bthis is not gzip".to_vec());
    let mut truncated = gzip(&tar_of(&[("f", &[1u8; 10000], 0o644)], &[]));
    truncated.truncate(truncated.len() / 2);
    server.put("truncated.tgz", truncated);
    let tmp = tempfile::tempdir().unwrap();
    let f = fetcher(tmp.path(), 0);
    let sandbox = tmp.path().join("sb");

    let missing = server.url("missing.tgz");
    let err = fetch(&f, &[uri(&missing)], &sandbox).await.unwrap_err();
    assert_eq!(
        err,
        format!("Failed to fetch '{missing}': HTTP 404 Not Found")
    );
    assert!(read(sandbox.join("stderr")).contains(&err));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = format!("http://127.0.0.1:{port}/x");
    let err = fetch(&f, &[uri(&refused)], &sandbox).await.unwrap_err();
    assert!(
        err.starts_with(&format!("Failed to fetch '{refused}': cannot connect")),
        "{err}"
    );
    assert!(err.to_lowercase().contains("connection refused"), "{err}");

    for name in ["broken.tar.gz", "truncated.tgz"] {
        let err = fetch(&f, &[uri(&server.url(name))], &sandbox)
            .await
            .unwrap_err();
        assert!(
            err.contains(&server.url(name)) && err.contains("archive corrupt"),
            "{err}"
        );
    }

    let err = fetch(&f, &[uri("hdfs://namenode/x.tgz")], &sandbox)
        .await
        .unwrap_err();
    assert!(err.contains("unsupported URI scheme 'hdfs'"), "{err}");

    let err = fetch(&f, &[uri("/no/such/file")], &sandbox)
        .await
        .unwrap_err();
    assert!(
        err.contains("/no/such/file") && err.contains("No such file"),
        "{err}"
    );

    let bad_output = Uri {
        output_file: Some("../outside".into()),
        ..uri(&server.url("broken.tar.gz"))
    };
    let err = fetch(&f, &[bad_output], &sandbox).await.unwrap_err();
    assert!(
        err.contains("must be a relative path inside the sandbox"),
        "{err}"
    );
    assert!(!tmp.path().join("outside").exists());
}

#[tokio::test]
async fn archives_never_write_outside_the_sandbox() {
    let server = FileServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let f = fetcher(tmp.path(), 0);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("dotdot.tar", tar_of(&[("../escaped", b"x", 0o644)], &[])),
        ("deep.tar", tar_of(&[("a/../../escaped", b"x", 0o644)], &[])),
        (
            "absolute-link.tar",
            tar_of(&[], &[("stdout", "/etc/passwd")]),
        ),
        ("dotdot-link.tar", tar_of(&[], &[("a/l", "../../escaped")])),
        // Each link alone looks inside; together `s/t` resolves to the sandbox's parent.
        ("chain.tar", tar_of(&[], &[("s", "."), ("s/t", "..")])),
        ("dotdot.zip", zip_of(&[("../escaped", b"x", 0o644)])),
    ];
    for (name, bytes) in cases {
        server.put(name, bytes);
        let sandbox = tmp.path().join("sb").join(name);
        let err = fetch(&f, &[uri(&server.url(name))], &sandbox)
            .await
            .unwrap_err();
        assert!(err.contains("outside the sandbox"), "{name}: {err}");
        assert!(!tmp.path().join("escaped").exists(), "{name}");
        assert!(!tmp.path().join("sb").join("escaped").exists(), "{name}");
        // No link that leads out is left behind.
        for entry in walk(&sandbox) {
            if let Ok(real) = std::fs::canonicalize(&entry) {
                assert!(
                    real.starts_with(std::fs::canonicalize(&sandbox).unwrap()),
                    "{name}: {}",
                    entry.display()
                );
            }
        }
    }
    // The same chain in an archive that then turns out corrupt: the failed extraction must
    // still remove the escaping link (the agent, as root, appends to files in the sandbox).
    let mut bytes = tar_of(&[], &[("s", "."), ("s/t", "..")]);
    bytes.truncate(bytes.len() - 1024);
    let mut bad = [0x41u8; 512];
    bad[148..156].copy_from_slice(b"0000000\0");
    bytes.extend_from_slice(&bad);
    server.put("chain-then-corrupt.tar", bytes);
    let sandbox = tmp.path().join("sb").join("chain-then-corrupt");
    let err = fetch(&f, &[uri(&server.url("chain-then-corrupt.tar"))], &sandbox)
        .await
        .unwrap_err();
    assert!(err.contains("chain-then-corrupt.tar"), "{err}");
    let root = std::fs::canonicalize(&sandbox).unwrap();
    for entry in walk(&sandbox) {
        if let Ok(real) = std::fs::canonicalize(&entry) {
            assert!(real.starts_with(&root), "left behind: {}", entry.display());
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

#[tokio::test]
async fn size_bounds_and_disk_quota() {
    let server = FileServer::start().await;
    server.put("big.bin", vec![0u8; 2 << 20]);
    // 8 MB of zeros compresses to a few KB: an archive bomb against a 1 MB quota.
    server.put(
        "bomb.tgz",
        gzip(&tar_of(&[("zeros", &vec![0u8; 8 << 20], 0o644)], &[])),
    );
    let tmp = tempfile::tempdir().unwrap();
    let f = fetcher(tmp.path(), 0);
    for name in ["big.bin", "bomb.tgz"] {
        let err = f
            .fetch(FetchRequest {
                uris: &[uri(&server.url(name))],
                sandbox: &tmp.path().join(name),
                user: None,
                owner: None,
                quota_bytes: Some(1 << 20),
            })
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&server.url(name)) && err.contains("disk quota exceeded"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_cached_artifact_over_the_quota_never_lands_in_the_sandbox() {
    let server = FileServer::start().await;
    server.put("big.bin", vec![7u8; 2 << 20]);
    let tmp = tempfile::tempdir().unwrap();
    let f = fetcher(tmp.path(), 64 << 20);
    let cached = [Uri {
        cache: Some(true),
        ..uri(&server.url("big.bin"))
    }];
    // A first launch without a quota fills the cache.
    fetch(&f, &cached, &tmp.path().join("first")).await.unwrap();
    let sandbox = tmp.path().join("second");
    let err = f
        .fetch(FetchRequest {
            uris: &cached,
            sandbox: &sandbox,
            user: None,
            owner: None,
            quota_bytes: Some(1 << 20),
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("disk quota exceeded"), "{err}");
    assert!(
        !sandbox.join("big.bin").exists(),
        "the cached copy was refused before it was copied"
    );
}

#[tokio::test]
async fn files_belong_to_the_task_user() {
    if !nix::unistd::Uid::effective().is_root() {
        panic!("this test needs root (CI runs as root) to give files to another user");
    }
    let server = FileServer::start().await;
    server.put("a.tgz", gzip(&tar_of(&[("d/f", b"x", 0o600)], &[])));
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let f = fetcher(tmp.path(), 0);
    let sandbox = tmp.path().join("sb");
    let owner = Owner {
        uid: 65534,
        gid: 65534,
        groups: vec![],
    };
    // A root-only local file is not readable by the task's user, so it is not fetched.
    let secret = tmp.path().join("secret");
    std::fs::write(&secret, "s").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let request = |uris| FetchRequest {
        uris,
        sandbox: &sandbox,
        user: Some("nobody"),
        owner: Some(&owner),
        quota_bytes: None,
    };
    let secret_uri = [uri(secret.to_str().unwrap())];
    let err = f.fetch(request(&secret_uri)).await.unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    f.fetch(request(&[uri(&server.url("a.tgz"))]))
        .await
        .unwrap();
    for path in [
        sandbox.clone(),
        sandbox.join("a.tgz"),
        sandbox.join("d"),
        sandbox.join("d/f"),
        sandbox.join("stderr"),
    ] {
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid()),
            (65534, 65534),
            "{}",
            path.display()
        );
    }
}
