//! The broker's side: the socket, one task per test process, and the reset after each.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::super::super::server::{PgServer, server};
use super::super::super::template;
use super::super::session::{self, Claimed};
use super::super::warm::{self, Warm};
use super::super::{claim_ready, ledger};
use super::proxy::Proxy;
use super::settings::{IDLE_EXIT, PROTOCOL, session_pool_dir};
use super::upstream::Upstream;
use crate::engine;

/// How the broker's clients come and go.
struct Clients {
    connected: AtomicUsize,
    last_left: std::sync::Mutex<Instant>,
}

/// Serves test processes on `socket` until no client came for [`IDLE_EXIT`]; returns
/// at once if another broker serves it. Blocks the calling thread.
pub fn serve(socket: PathBuf) -> Result<(), String> {
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    }
    let lock_path = socket.with_extension("lock");
    let lock = std::fs::File::create(&lock_path)
        .map_err(|e| format!("cannot create `{}`: {e}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        return Ok(()); // another broker serves this socket
    }
    let _ = std::fs::remove_file(&socket);
    let served = engine::handle().block_on(run(&socket));
    let _ = std::fs::remove_file(&socket);
    drop(lock);
    served
}

async fn run(socket: &Path) -> Result<(), String> {
    let listener = UnixListener::bind(socket)
        .map_err(|e| format!("cannot listen on `{}`: {e}", socket.display()))?;
    let server = server().await.map_err(|e| e.to_string())?;
    // Without its session pool the broker still serves: clients connect to the server.
    let pool_dir = session_pool_dir(socket);
    let proxy = Proxy::start(
        &pool_dir,
        server.admin.get_port(),
        Upstream::of(&server.admin),
    )
    .ok();
    let clients = Arc::new(Clients {
        connected: AtomicUsize::new(0),
        last_left: std::sync::Mutex::new(Instant::now()),
    });
    loop {
        match tokio::time::timeout(Duration::from_secs(1), listener.accept()).await {
            Ok(Ok((stream, _))) => {
                clients.connected.fetch_add(1, Ordering::SeqCst);
                let (server, clients) = (server.clone(), clients.clone());
                let (proxy, pool_dir) = (proxy.clone(), pool_dir.clone());
                tokio::spawn(async move {
                    serve_one(stream, &server, proxy.as_deref(), &pool_dir).await;
                    *clients.last_left.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
                    clients.connected.fetch_sub(1, Ordering::SeqCst);
                });
            }
            Ok(Err(_)) => {}
            Err(_) => {
                let idle = clients
                    .last_left
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .elapsed();
                if clients.connected.load(Ordering::SeqCst) == 0 && idle > IDLE_EXIT {
                    let _ = std::fs::remove_dir_all(&pool_dir);
                    warm::let_go_all().await;
                    return Ok(());
                }
                if server.is_lost() {
                    return Err("the server was lost".into());
                }
            }
        }
    }
}

/// One test process: its claim, then its database back.
async fn serve_one(
    stream: UnixStream,
    server: &Arc<PgServer>,
    proxy: Option<&Proxy>,
    pool_dir: &Path,
) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let Ok(Some(request)) = lines.next_line().await else {
        return;
    };
    let handed = hand_out(server, &request).await;
    let (warm, claimed) = match handed {
        Ok(handed) => handed,
        Err(why) => {
            let _ = write.write_all(format!("NO {why}\n").as_bytes()).await;
            return;
        }
    };
    let answer = match proxy {
        Some(proxy) => {
            proxy.hand(&claimed.name);
            format!("OK {} {}\n", claimed.name, pool_dir.display())
        }
        None => format!("OK {}\n", claimed.name),
    };
    if write.write_all(answer.as_bytes()).await.is_err() {
        take_back(server, warm, claimed, proxy, Left::Dirty).await;
        return;
    }
    // The test runs. Then `DONE`, or its process ended (the socket closed), or
    // `UNTOUCHED` (a `Rollback` test's transaction was rolled back), or `KEEP`.
    match lines.next_line().await {
        Ok(Some(line)) if line == "UNTOUCHED" => {
            take_back(server, warm, claimed, proxy, Left::RolledBack).await;
        }
        Ok(Some(line)) if line == "KEEP" => {
            if let Some(proxy) = proxy {
                proxy.take_back(&claimed.name).await;
                proxy.done(&claimed.name, false);
            }
            claimed.pool.close().await;
            let kept = ledger::keep(server, &claimed.name).await;
            let _ = write
                .write_all(if kept.is_ok() { b"KEPT\n" } else { b"LOST\n" })
                .await;
        }
        _ => take_back(server, warm, claimed, proxy, Left::Dirty).await,
    }
}

/// What a client says it left in its database.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Left {
    /// Anything: the database is reset.
    Dirty,
    /// Only its sequences' advances: its one transaction was rolled back. The same
    /// trust as the direct way's `Rollback`, which records such a database clean.
    RolledBack,
}

/// A clean pooled database of the template of schema `hash`, for a client.
async fn hand_out(server: &Arc<PgServer>, request: &str) -> Result<(Arc<Warm>, Claimed), String> {
    let mut words = request.split(' ');
    let (verb, version, hash) = (words.next(), words.next(), words.next());
    if verb != Some("CLAIM") || version != Some(&PROTOCOL.to_string()) {
        return Err(format!("unknown request `{request}`"));
    }
    let hash = hash.filter(|hash| hash.bytes().all(|b| b.is_ascii_hexdigit()));
    let hash = hash.ok_or("no schema hash")?;
    let name = template::name_for_hash(hash, &server.role);
    let template = match template::existing(server, &name).await {
        Ok(Some(template)) => template,
        Ok(None) => return Err(format!("no template `{name}` yet")),
        Err(error) => return Err(error.to_string()),
    };
    let warm = warm::warm_for(server, &template);
    warm::remember(hash, &warm);
    // Recorded in use since the broker claimed it (see `ledger`): nothing to write.
    if let Some((warm, claimed)) = warm::take_here(hash) {
        return Ok((warm, claimed));
    }
    let claimed = claim_ready(server, &warm, session::Sessions::BROKER)
        .await
        .map_err(|e| e.to_string())?;
    Ok((warm, claimed))
}

/// After a test: ends whatever its process left on the database, resets it on the
/// broker's own session (only rewinds its sequences, if it was `left` rolled back) and
/// keeps it for the next client; drops it if the test changed the schema past undoing.
async fn take_back(
    server: &Arc<PgServer>,
    warm: Arc<Warm>,
    mut claimed: Claimed,
    proxy: Option<&Proxy>,
    left: Left,
) {
    let name = claimed.name.clone();
    // The sessions the session pool keeps for the next test are left alone.
    let spared = match proxy {
        Some(proxy) => proxy.take_back(&name).await,
        None => Vec::new(),
    };
    let reset = async {
        claimed.end_other_sessions(&spared).await?;
        if left == Left::RolledBack {
            session::rewind_sequences(&warm.template, &claimed.pool).await?;
            return Ok(true);
        }
        // The broker's own sessions on the database run nothing but its resets (simple
        // queries, settings local to their transaction), never a test's code: they hold
        // no state to discard.
        claimed.reset(server, &warm.template).await
    }
    .await;
    let Ok(true) = reset else {
        // Its kept sessions are closed before the database goes.
        if let Some(proxy) = proxy {
            proxy.done(&name, false);
        }
        claimed.pool.close().await;
        let _ = ledger::drop_claimed(server, &name).await;
        return;
    };
    // Kept recorded in use while the broker holds it, and recorded clean when it lets
    // it go (`warm`'s eviction, or its exit): two ledger writes a test fewer.
    warm.push(claimed);
    if let Some(proxy) = proxy {
        proxy.done(&name, true);
        // Pushing it may have let other databases go, to keep the connections few.
        proxy.prune(ledger::holds);
    }
}
