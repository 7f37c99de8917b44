//! The request path after CORS: admission, the backend request (redirects followed on
//! the endpoint's origin), the shared-stream join, and the relay answer.

use super::*;
use crate::pair_key::PairKey;
use crate::telemetry::PairCounters;

/// What a request is decided on, read once per request: the gateway view, its change
/// watcher (taken before the view was read, so a change in between is not missed) and
/// the request path routed against that view.
pub(super) struct Seen<'a> {
    pub view: &'a crate::control::GatewayView,
    pub watcher: crate::beacon::Watcher,
    pub routed: &'a Result<access::Routed, Reject>,
}

impl Gateway {
    /// Admits a request and opens its backend stream: for an event stream its relay (the
    /// answer's head is the caller's: [`Answered`]), else the whole answer.
    pub(super) async fn open(
        &self,
        req: &fields::RequestHead<'_>,
        client: Option<SocketAddr>,
        view: Seen<'_>,
    ) -> Result<Opened, Reject> {
        let inner = &*self.inner;
        let Seen {
            view,
            watcher: view_watcher,
            routed,
        } = view;
        let query = req.uri.query();
        let token = access::request_token(req.fields, query)?;
        // A path that cannot be routed is refused after a malformed credential header.
        let routed = routed.as_ref().map_err(Reject::clone)?;
        let head = *req.method == Method::HEAD;
        let admission = access::admit(
            view,
            inner.control.keys(),
            req.method,
            req.uri.path(),
            routed,
            token.as_deref(),
            i64::try_from(inner.options.clock_skew.as_secs()).unwrap_or(i64::MAX),
        )?;
        let now = now_millis();
        let mut metering = None;
        if let Some(caller) = &admission.caller {
            let app_id = &caller.claims.application.uuid;
            // HEAD opens no stream, so it takes no connection from the policy.
            if !head && let Some(Some(per_minute)) = view.app_rate_limits.get(app_id) {
                inner
                    .meter
                    .acquire_rate(app_id, *per_minute, now)
                    .await
                    .map_err(|refusal| match refusal {
                        RateRefusal::Throttled(retry_after) => Reject::AppThrottled {
                            retry_after,
                            per_minute: *per_minute,
                        },
                        RateRefusal::StoreUnavailable => Reject::QuotaStoreUnavailable,
                    })?;
            }
            if let Some(sub) = &caller.subscription
                && let Some(window) = inner.meter.window(&sub.id, sub.quota, now)
            {
                // Held from here, so a lease taken for a stream that fails to open is
                // given back.
                let hold = window.hold();
                match window.admit(now).await {
                    Refill::Granted => {}
                    Refill::Exhausted => {
                        let wait = (window.millis_until_reset(now) + 999) / 1000;
                        return Err(Reject::QuotaExhausted {
                            retry_after: u64::try_from(wait).unwrap_or(1).max(1),
                        });
                    }
                    Refill::Unavailable => return Err(Reject::QuotaStoreUnavailable),
                }
                metering = Some(Metering::new(
                    window,
                    format!("plan {} allows {}", sub.policy, sub.quota.describe()),
                ));
                drop(hold);
            }
        }
        let target = join_target(
            admission.endpoint_url()?,
            &admission.upstream_resource,
            query,
        );
        if head {
            // What GET would answer after the same checks, without opening the backend
            // stream (RFC 9110 §9.3.2): nothing is relayed, nothing metered.
            return Ok(Opened::Response(
                (StatusCode::OK, stream_headers()).into_response(),
            ));
        }
        let tls = crate::tls::client::for_backend(
            &inner.control.snapshot(),
            &admission.route.api_id,
            &target.url,
        )
        .map_err(|e| {
            Reject::BackendUnreachable(format!(
                "Cannot reach the back end {}: {e}",
                admission.endpoint()
            ))
        })?;
        // The request path, for the traffic events (built only when one is reported).
        let path = || format!("{}{}", admission.route.base_path, admission.resource);
        let source = if admission.route.backend_stream == BackendStream::Shared {
            let last_event_id = req
                .fields
                .get("last-event-id")
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .filter(|id| !id.is_empty());
            // Boxed (in a statement of its own): a per-client stream's request would
            // otherwise carry the room of the shared join's state.
            let join = Box::pin(self.join_shared(&admission, target, tls));
            match join.await? {
                Ok(mut sub) => {
                    sub.position(last_event_id.as_deref());
                    Source::Shared(sub)
                }
                Err(answer) => return Ok(Opened::Response(self.pass_on(&answer, path(), client))),
            }
        } else {
            let headers = upstream_headers(req.fields, client);
            match self
                .connect(target, headers, admission.endpoint(), tls)
                .await?
            {
                Answer::Events(body) => Source::Direct(body),
                Answer::Other(upstream, body) => {
                    // Boxed: rare, and its state would size every stream's request.
                    let read = Box::pin(read_other(&upstream, body));
                    let answer = read.await;
                    return Ok(Opened::Response(self.pass_on(&answer, path(), client)));
                }
            }
        };
        let api = admission.route.handle.as_str();
        let application = admission
            .caller
            .as_ref()
            .map(|c| c.claims.application.name.as_str())
            .unwrap_or_default();
        let stream_id = inner.next_stream.fetch_add(1, Ordering::Relaxed);
        if inner.telemetry.streams_watched() {
            inner.telemetry.report(TrafficEvent::Opened {
                stream_id,
                api: api.to_string(),
                application: application.to_string(),
                key_type: admission
                    .caller
                    .as_ref()
                    .map(|c| c.claims.keytype.as_str().to_string())
                    .unwrap_or_default(),
                path: path(),
                client: client.map(|c| c.to_string()).unwrap_or_default(),
                at: now,
            });
        }
        let relay = Relay::new(RelayParts {
            upstream: source,
            metering,
            pair: self.pair_counters(api, application),
            telemetry: inner.telemetry.clone(),
            stream_id,
            heartbeat: inner.options.heartbeat,
            token_exp: admission.caller.as_ref().map(|c| c.claims.exp),
            rights: Rights::of(&admission),
            control: inner.control.clone(),
            view: view_watcher,
            stop: inner.stop_beacon.watch(),
            stopped: *inner.stop.borrow(),
        });
        Ok(Opened::Stream(Box::new(relay)))
    }

    /// Sends the backend request and checks the answer is an event stream the gateway may
    /// relay: 200 with `text/event-stream` and no coding it cannot read (else refused,
    /// 502 code 101503); any other status is handed back to be passed on.
    async fn connect(
        &self,
        target: upstream::Target<'_>,
        header_lines: Vec<u8>,
        endpoint: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Answer, Reject> {
        let (upstream, body) = self.follow(target, header_lines, endpoint, tls).await?;
        if let Some(why) = unknown_transfer_coding(&upstream) {
            // `chunked` is decoded (`h1`); any other coding would reach the client unread
            // by the event counter (RFC 9112 §6.1: decode or refuse).
            return Err(Reject::BackendNotSse(format!(
                "The back end {endpoint} answered with {why}, which the gateway does not decode"
            )));
        }
        if upstream.status == StatusCode::SWITCHING_PROTOCOLS {
            // The gateway never asks for an upgrade (it drops `Upgrade`), so a 101 is not a
            // valid answer (RFC 9110 §15.2.2), and what follows it is not HTTP.
            return Err(Reject::BackendNotSse(format!(
                "The back end {endpoint} answered 101 Switching Protocols, though no upgrade \
                 was asked"
            )));
        }
        if upstream.status != StatusCode::OK {
            return Ok(Answer::Other(upstream, body));
        }
        if let Some(why) = not_an_event_stream(&upstream) {
            // Neither relayed nor metered: an event quota cannot count what is not events.
            return Err(Reject::BackendNotSse(format!(
                "The back end {endpoint} answered 200 with {why}, not an event stream"
            )));
        }
        Ok(Answer::Events(body))
    }

    /// Joins the shared backend stream of the admitted revision and backend URL, opening
    /// it for the first subscriber (whose refusal, or the backend's other answer, is as in
    /// per-client mode). Later subscribers wait for it to be live: the backend's other
    /// answer (status and bounded body) if the first subscriber got one, else 503 (code
    /// 101503) with the backend's error if it cannot be.
    async fn join_shared(
        &self,
        admission: &Admission,
        target: upstream::Target<'_>,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Result<shared::Subscription, Arc<shared::OtherAnswer>>, Reject> {
        let inner = &*self.inner;
        let target = target.into_owned();
        let key = shared::HubKey {
            revision_id: admission.route.revision_id.clone(),
            url: target.to_url().to_string(),
        };
        let (sub, created) = inner.hubs.join(key, &inner.options.shared);
        let patience = inner.options.connect_timeout + crate::tls::client::HANDSHAKE_TIMEOUT;
        if !created {
            return match sub.hub().ready(patience).await {
                Ok(()) => Ok(Ok(sub)),
                Err(shared::NotReady::Answered(answer)) => Ok(Err(answer)),
                Err(shared::NotReady::Error(e)) => Err(Reject::BackendUnreachable(e)),
            };
        }
        let hub = sub.hub().clone();
        // Closes the hub if this request is dropped before its first connection is made.
        let guard = FirstConnection {
            hub: Some(hub.clone()),
            hubs: inner.hubs.clone(),
        };
        let endpoint = admission.endpoint().to_string();
        let answer = self
            .connect(
                target.clone(),
                shared::backend_headers(None),
                &endpoint,
                tls.clone(),
            )
            .await;
        let body = match answer {
            Ok(Answer::Events(body)) => body,
            Ok(Answer::Other(upstream, body)) => {
                // Joiners wait for the body (bounded by its reading) and get the same answer;
                // it is read on a task of its own, so it reaches them even if this client
                // leaves meanwhile (the guard closes the hub if the task fails).
                hub.answering(tokio::time::Instant::now() + OTHER_BODY_TIME + ANSWER_MARGIN);
                let hubs = inner.hubs.clone();
                let reading = tokio::spawn(async move {
                    let answer = read_other(&upstream, body).await;
                    hub.answered(&hubs, answer.clone());
                    drop(guard.disarm());
                    Arc::new(answer)
                });
                return match reading.await {
                    Ok(answer) => Ok(Err(answer)),
                    Err(e) => Err(Reject::BackendUnreachable(format!(
                        "The back end {endpoint}'s answer could not be read: {e}"
                    ))),
                };
            }
            Err(reject) => {
                hub.fail(&inner.hubs, &reject.detail());
                return Err(reject);
            }
        };
        drop(guard.disarm());
        let gateway = self.clone();
        let reconnect = move |last_event_id: Option<String>| {
            let gateway = gateway.clone();
            let target = target.clone();
            let endpoint = endpoint.clone();
            let tls = tls.clone();
            async move {
                let headers = shared::backend_headers(last_event_id.as_deref());
                match gateway.connect(target, headers, &endpoint, tls).await {
                    Ok(Answer::Events(body)) => Ok(body),
                    Ok(Answer::Other(upstream, _)) => Err(format!(
                        "The back end {endpoint} answered {}",
                        upstream.status
                    )),
                    Err(reject) => Err(reject.detail()),
                }
            }
        };
        hub.start(
            inner.hubs.clone(),
            body,
            reconnect,
            inner.stop.subscribe(),
            inner.telemetry.metrics().clone(),
        );
        Ok(Ok(sub))
    }

    /// Sends the backend request, following redirects whose target has the endpoint's
    /// scheme, host and port (at most [`MAX_REDIRECTS`]); any other target is refused
    /// (502, code 101503) with the target in the detail. The answer returned is never a
    /// followed redirect, and its `Location` is never passed on.
    async fn follow(
        &self,
        mut target: upstream::Target<'_>,
        header_lines: Vec<u8>,
        endpoint: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<(h1::AnswerHead, UpstreamBody), Reject> {
        // An https backend also gets its TLS handshake's own bound, so a stalled handshake
        // is reported as such. Redirects stay on the endpoint's origin, so `tls` holds
        // for every hop.
        let timeout = match tls {
            Some(_) => self.inner.options.connect_timeout + crate::tls::client::HANDSHAKE_TIMEOUT,
            None => self.inner.options.connect_timeout,
        };
        // The endpoint's origin, taken at the first redirect (every hop keeps it).
        let mut origin = None;
        let mut hops = 0;
        loop {
            let sent =
                tokio::time::timeout(timeout, upstream::get(&target, &header_lines, tls.as_ref()))
                    .await;
            let (upstream, body) = match sent {
                Ok(Ok(response)) => response,
                Ok(Err(e)) => {
                    return Err(Reject::BackendUnreachable(format!(
                        "Cannot reach the back end {endpoint}: {e}"
                    )));
                }
                Err(_) => {
                    return Err(Reject::BackendUnreachable(format!(
                        "The back end {endpoint} did not answer within {} ms",
                        timeout.as_millis()
                    )));
                }
            };
            let redirect = matches!(upstream.status.as_u16(), 301 | 302 | 303 | 307 | 308);
            let location = upstream
                .location
                .as_ref()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            let (true, Some(location)) = (redirect, location) else {
                return Ok((upstream, body));
            };
            drop(body);
            let url = target.to_url();
            let next = url.join(location.trim()).map_err(|e| {
                Reject::BackendRedirect(format!(
                    "The back end {endpoint} redirected to an invalid Location {location:?}: {e}"
                ))
            })?;
            let origin = origin.get_or_insert_with(|| url.origin());
            if next.origin() != *origin {
                return Err(Reject::BackendRedirect(format!(
                    "The back end {endpoint} redirected ({}) to {next}, outside the \
                     endpoint's scheme, host and port; not followed",
                    upstream.status.as_u16()
                )));
            }
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(Reject::BackendRedirect(format!(
                    "The back end {endpoint} redirected more than {MAX_REDIRECTS} times (last to \
                     {next})"
                )));
            }
            target = upstream::Target::of(next);
        }
    }

    /// A backend that answered other than 200: its status and bounded body (read with
    /// [`read_other`]) go to the client.
    fn pass_on(
        &self,
        answer: &shared::OtherAnswer,
        path: String,
        client: Option<SocketAddr>,
    ) -> Response {
        let status = answer.status;
        let metrics = self.inner.telemetry.metrics();
        metrics.backend_errors.fetch_add(1, Ordering::Relaxed);
        self.inner.telemetry.report(TrafficEvent::Rejected {
            path,
            status: status.as_u16(),
            code: u32::from(status.as_u16()),
            message: format!("the back end answered {status}"),
            client: client.map(|c| c.to_string()).unwrap_or_default(),
            at: now_millis(),
        });
        let mut builder = Response::builder().status(status);
        // An event stream under another status is passed on without its type or body.
        if let Some(ct) = answer
            .content_type
            .as_ref()
            .filter(|ct| !is_event_stream_type(ct))
        {
            builder = builder.header(header::CONTENT_TYPE, ct.clone());
        }
        builder
            .body(Body::from(answer.body.clone()))
            .unwrap_or_else(|_| status.into_response())
    }

    /// The cached counters of `api` for `application` (one per pair; a lookup that finds
    /// them takes no lock and allocates nothing).
    fn pair_counters(&self, api: &str, application: &str) -> Arc<PairCounters> {
        let telemetry = &self.inner.telemetry;
        let cached = self.inner.pairs.get_or_replace(
            &(api, application) as &dyn PairKey,
            || (api.to_string(), application.to_string()),
            |_| true,
            |_| telemetry.metrics().pair_counters(api, application),
        );
        Arc::clone(&cached)
    }
}

/// The most of a backend's non-200 body passed on, bytes: an error page, not a stream.
const OTHER_BODY_LIMIT: usize = 64 * 1024;
/// How long a backend's non-200 body is read for before what came of it is passed on.
const OTHER_BODY_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// How much longer than [`OTHER_BODY_TIME`] joiners of a shared stream wait for the answer
/// other than 200 its first connection got (the time to hand it over).
const ANSWER_MARGIN: std::time::Duration = std::time::Duration::from_secs(1);

/// A backend's answer other than 200, as passed on: its status, its `Content-Type`, and its
/// body read with [`other_body`]. An event stream under another status is not relayed (a
/// client does not read it: an EventSource fails such a connection, and an event quota
/// cannot count what is not a stream the gateway meters), so its body is not read.
async fn read_other(upstream: &h1::AnswerHead, body: UpstreamBody) -> shared::OtherAnswer {
    let content_type = upstream.content_type.clone();
    let events = content_type.as_ref().is_some_and(is_event_stream_type);
    shared::OtherAnswer {
        status: upstream.status,
        content_type,
        body: if events {
            bytes::Bytes::new()
        } else {
            other_body(body).await
        },
    }
}

/// A backend's non-200 body, whole: up to [`OTHER_BODY_LIMIT`] bytes, what came within
/// [`OTHER_BODY_TIME`], and up to a failure of the backend connection. Bounded, so a
/// backend cannot hold a client (and its sockets) open, nor stream past the metering,
/// under an error status.
async fn other_body(mut body: UpstreamBody) -> bytes::Bytes {
    use futures_util::StreamExt as _;
    let deadline = tokio::time::Instant::now() + OTHER_BODY_TIME;
    let mut out = bytes::BytesMut::new();
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, body.next()).await {
        let room = OTHER_BODY_LIMIT.saturating_sub(out.len());
        out.extend_from_slice(chunk.get(..chunk.len().min(room)).unwrap_or_default());
        if out.len() >= OTHER_BODY_LIMIT {
            break;
        }
    }
    out.freeze()
}

/// A backend's answer to a stream request.
enum Answer {
    /// 200 with an event stream.
    Events(UpstreamBody),
    /// Another status, passed on to the client.
    Other(h1::AnswerHead, UpstreamBody),
}

/// Fails a new shared stream whose first subscriber left before its backend answered.
struct FirstConnection {
    hub: Option<Arc<shared::Hub>>,
    hubs: Arc<shared::Hubs>,
}

impl FirstConnection {
    fn disarm(mut self) -> Self {
        self.hub = None;
        self
    }
}

impl Drop for FirstConnection {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.take() {
            hub.fail(
                &self.hubs,
                "the first subscriber left before the back end answered",
            );
        }
    }
}
