use chrono::TimeDelta;
use scim_gateway::domain::{self, activity::NewEntry};
use scim_gateway::entities::activity;
use sea_orm::{ActiveValue::Set, EntityTrait, PaginatorTrait};

use crate::common::TestApp;

#[tokio::test]
async fn entries_past_retention_are_purged_and_recent_ones_kept() {
    let app = TestApp::spawn().await;
    let token = app.admin_token("acme", "owner@acme.test").await;
    let ws = app.workspace_id(&token).await;
    domain::activity::record(
        &app.db,
        NewEntry::settings(&ws, "admin x".into(), "test.recent", "recent".into()),
    )
    .await
    .unwrap();
    activity::Entity::insert(activity::ActiveModel {
        workspace_id: Set(ws.clone()),
        at: Set(domain::now() - TimeDelta::days(100)),
        actor: Set("admin x".into()),
        action: Set("test.old".into()),
        status: Set(200),
        summary: Set("old".into()),
        succeeded: Set(true),
        ..Default::default()
    })
    .exec(&app.db)
    .await
    .unwrap();
    assert_eq!(activity::Entity::find().count(&app.db).await.unwrap(), 2);
    let purged = domain::activity::purge_before(&app.db, domain::now() - TimeDelta::days(90))
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let left = activity::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].action, "test.recent");
}
