//! The legacy `/master/roles` and `/master/roles.json`: Mesos' JSON rendering of the roles
//! (`{"roles": [{"name", "weight", "frameworks": [ids], "resources", "allocated",
//! "offered", "quota"}]}`, resources as flattened summaries; `quota` as Mesos 1.9+ showed it:
//! `{"role", "guarantee", "limit", "consumed"}`, each a name → value object).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use drover_core::master::Master;
use serde_json::{Value, json};

use crate::acls::Caller;
use crate::legacy::summary_json;
use crate::routes::{AppState, driver_gone};

fn render(master: &Master, caller: &Caller) -> Value {
    let roles: Vec<Value> = master
        .role_views()
        .into_iter()
        // `view_roles`: the roles this principal may not see are left out, as in Mesos.
        .filter(|r| caller.may_view_role(&r.name))
        .map(|r| {
            let total = drover_core::resources::add(&r.allocated, &r.offered);
            let quota = master.quotas().get(&r.name).cloned().unwrap_or_default();
            json!({
                "name": r.name,
                "weight": r.weight,
                "frameworks": r.frameworks,
                "resources": summary_json(&total),
                "allocated": summary_json(&r.allocated),
                "offered": summary_json(&r.offered),
                "quota": {
                    "role": r.name,
                    "guarantee": quota.guarantees,
                    "limit": quota.limits,
                    "consumed": master.quota_consumed(&r.name),
                },
            })
        })
        .collect();
    json!({ "roles": roles })
}

/// `GET /master/roles` (and `.json`).
pub async fn roles(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let caller = Caller::of(request.extensions());
    match state.handle.read(move |m, _| render(m, &caller)).await {
        Some(body) => Json(body).into_response(),
        None => driver_gone(),
    }
}
