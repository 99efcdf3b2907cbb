/// `schema.graphql` is the SDL of the served schema. When it is stale this test rewrites it and
/// fails, so the diff shows up for review.
#[test]
fn schema_graphql_matches_served_schema() {
    let served = scim_gateway::graphql::sdl();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != served {
        std::fs::write(&path, &served).expect("write schema.graphql");
        panic!("schema.graphql was stale; it has been rewritten: review and commit it");
    }
}
