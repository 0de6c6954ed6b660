//! Each organisation's PHI policy, stored as JSON (see `phi::policy`).

use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::ids::OrganizationId;
use super::schema::phi_policies;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = phi_policies)]
pub struct StoredPolicy {
    pub actions: serde_json::Value,
    pub extra_patterns: serde_json::Value,
    pub allowed_terms: Vec<String>,
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
) -> QueryResult<Option<StoredPolicy>> {
    phi_policies::table
        .find(org)
        .select(StoredPolicy::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn save(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    policy: &StoredPolicy,
) -> QueryResult<()> {
    diesel::insert_into(phi_policies::table)
        .values((
            phi_policies::organization_id.eq(org),
            phi_policies::actions.eq(&policy.actions),
            phi_policies::extra_patterns.eq(&policy.extra_patterns),
            phi_policies::allowed_terms.eq(&policy.allowed_terms),
        ))
        .on_conflict(phi_policies::organization_id)
        .do_update()
        .set((
            phi_policies::actions.eq(excluded(phi_policies::actions)),
            phi_policies::extra_patterns.eq(excluded(phi_policies::extra_patterns)),
            phi_policies::allowed_terms.eq(excluded(phi_policies::allowed_terms)),
            phi_policies::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
        .map(drop)
}
