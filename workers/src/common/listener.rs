//! Serving the services' routers: each listener with its TLS configuration, a bound on the
//! connections it holds open, a time limit for a request's headers (which also closes idle
//! keep-alive connections) and for the TLS handshake, and a graceful stop on SIGTERM.

use axum::{extract::ConnectInfo, Router};
use hyper_util::{
	rt::{TokioIo, TokioTimer},
	server::graceful::GracefulShutdown,
};
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::{rustls::ServerConfig, TlsAcceptor};
use tower_service::Service;

/// In a request's extensions when its connection presented a client certificate that chains
/// to `--tls-client-ca` (rustls verified it during the handshake).
#[derive(Debug, Clone, Copy)]
pub struct ClientCertificate;

/// One listener: its name in the logs, its address, what it serves and how.
pub struct Listener {
	pub name: &'static str,
	pub addr: SocketAddr,
	pub app: Router,
	pub tls: Option<Arc<ServerConfig>>,
}

/// What one connection may take.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
	/// Connections open at once per listener; more wait in the kernel's backlog.
	pub max_connections: usize,
	/// How long a request's headers may take to arrive, counted from when the connection is
	/// ready for the next request, so that an idle or trickling client is closed. Also the
	/// TLS handshake's limit.
	pub header_timeout: Duration,
	/// How long requests in progress may go on after SIGTERM.
	pub drain: Duration,
}

/// Binds every listener, then serves them all until SIGTERM or Ctrl-C; requests in progress
/// then have `limits.drain` to finish.
pub async fn serve(listeners: Vec<Listener>, limits: ConnectionLimits) -> anyhow::Result<()> {
	let mut bound = Vec::new();
	for l in listeners {
		let socket = tokio::net::TcpListener::bind(l.addr)
			.await
			.map_err(|e| anyhow::anyhow!("{} listener on {}: {e}", l.name, l.addr))?;
		let scheme = if l.tls.is_some() { "https" } else { "http" };
		tracing::info!(listener = l.name, listen = %l.addr, scheme, "listening");
		bound.push((l, socket));
	}
	let (stop_tx, stop_rx) = watch::channel(false);
	let graceful = Arc::new(GracefulShutdown::new());
	let mut loops = Vec::new();
	for (l, socket) in bound {
		let (stop, graceful) = (stop_rx.clone(), graceful.clone());
		loops.push(tokio::spawn(accept_loop(l, socket, limits, stop, graceful)));
	}
	shutdown_signal().await;
	let _ = stop_tx.send(true);
	for l in loops {
		let _ = l.await;
	}
	let graceful = Arc::try_unwrap(graceful).ok().expect("the accept loops have ended");
	if tokio::time::timeout(limits.drain, graceful.shutdown()).await.is_err() {
		tracing::warn!("requests still in progress after the drain time were cut");
	}
	tracing::info!("stopped");
	Ok(())
}

async fn accept_loop(
	l: Listener,
	socket: tokio::net::TcpListener,
	limits: ConnectionLimits,
	mut stop: watch::Receiver<bool>,
	graceful: Arc<GracefulShutdown>,
) {
	let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
	let tls = l.tls.map(TlsAcceptor::from);
	loop {
		let permit = tokio::select! {
			p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
			_ = stop.changed() => return,
		};
		let (stream, peer) = tokio::select! {
			accepted = socket.accept() => match accepted {
				Ok(a) => a,
				Err(e) => {
					// Out of file descriptors, for one: wait rather than spin.
					tracing::warn!(listener = l.name, error = %e, "accept failed");
					tokio::time::sleep(Duration::from_millis(100)).await;
					continue;
				}
			},
			_ = stop.changed() => return,
		};
		let app = l.app.clone();
		// The client's address reaches the handlers (rate limits per client), and whether it
		// presented a verified certificate (the other bank's endpoints under mutual TLS).
		let service = move |certified: bool| {
			hyper::service::service_fn(move |mut request| {
				request.extensions_mut().insert(ConnectInfo(peer));
				if certified {
					request.extensions_mut().insert(ClientCertificate);
				}
				let mut app = app.clone();
				async move { app.call(request).await }
			})
		};
		let mut http = hyper::server::conn::http1::Builder::new();
		http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
		let (tls, watcher, name) = (tls.clone(), graceful.watcher(), l.name);
		tokio::spawn(async move {
			let _permit = permit;
			let result = match tls {
				Some(acceptor) => {
					let handshake =
						tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await;
					let stream = match handshake {
						Ok(Ok(s)) => s,
						Ok(Err(e)) => {
							tracing::info!(listener = name, %peer, error = %e, "TLS handshake refused");
							return;
						}
						Err(_) => return,
					};
					let certified = stream.get_ref().1.peer_certificates().is_some();
					let connection =
						http.serve_connection(TokioIo::new(stream), service(certified));
					watcher.watch(connection).await
				}
				None => {
					let connection = http.serve_connection(TokioIo::new(stream), service(false));
					watcher.watch(connection).await
				}
			};
			if let Err(e) = result {
				tracing::debug!(listener = name, %peer, error = %e, "connection ended");
			}
		});
	}
}

async fn shutdown_signal() {
	let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
		.expect("a SIGTERM handler installs");
	tokio::select! {
		_ = term.recv() => {},
		_ = tokio::signal::ctrl_c() => {},
	}
}
