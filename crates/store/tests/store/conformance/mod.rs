//! The backend-neutral conformance suite: one `pub async fn` per behaviour, taking the store
//! under test, and [`conformance_suite!`] listing them all so each backend instantiates every
//! one as a test with its own fresh database.

pub mod connections;
pub mod connectors;
pub mod events;
pub mod refresh;
pub mod sessions;
pub mod workspaces;

/// Invokes `$run!(module, function)` for every conformance test.
macro_rules! conformance_suite {
    ($run:ident) => {
        $run!(
            workspaces,
            ensure_workspace_creates_once_and_returns_the_same_workspace
        );
        $run!(workspaces, api_key_is_found_by_id_with_its_hash);
        $run!(workspaces, api_key_with_an_existing_id_is_a_conflict);
        $run!(workspaces, migrate_again_and_ping_succeed);
        $run!(
            connectors,
            upsert_connector_creates_then_replaces_and_bumps_the_generation
        );
        $run!(
            connectors,
            connectors_are_listed_by_name_and_only_in_their_workspace
        );
        $run!(connectors, delete_connector_reports_whether_it_deleted_one);
        $run!(
            connectors,
            recreated_connector_counts_as_changed_for_connections_that_failed_on_it
        );
        $run!(sessions, connect_session_reads_back_with_its_verifier);
        $run!(sessions, connect_session_is_consumed_once_then_already_used);
        $run!(sessions, expired_connect_session_is_not_consumable);
        $run!(sessions, unknown_state_is_unknown);
        $run!(sessions, concurrent_callbacks_consume_a_state_exactly_once);
        $run!(sessions, second_session_with_the_same_state_is_a_conflict);
        $run!(
            connections,
            inserted_connection_reads_back_active_with_its_account
        );
        $run!(connections, connection_with_an_existing_id_is_a_conflict);
        $run!(
            connectors,
            a_connection_degraded_by_its_connector_is_due_once_the_connector_changes
        );
        $run!(
            refresh,
            a_refresh_outcome_fenced_by_a_stale_version_does_not_land
        );
        $run!(
            refresh,
            an_annotation_marks_an_active_connection_and_the_next_refresh_clears_it
        );
        $run!(
            connections,
            idle_connections_lists_active_ones_unused_since_the_cutoff_oldest_first
        );
        $run!(
            connections,
            approvals_after_count_the_same_account_on_the_same_connector_only
        );
        $run!(
            connections,
            another_workspace_sees_no_connection_and_no_token
        );
        $run!(
            connections,
            list_connections_applies_each_filter_newest_first
        );
        $run!(
            connections,
            current_token_returns_the_access_token_and_its_times
        );
        $run!(connections, touch_last_used_keeps_the_latest_use);
        $run!(connections, disconnect_erases_the_tokens);
        $run!(
            connections,
            due_for_retry_lists_degraded_connections_whose_retry_is_due
        );
        $run!(refresh, lease_is_taken_once_under_contention);
        $run!(refresh, lease_is_retaken_only_after_it_expires);
        $run!(refresh, release_lease_frees_it_only_for_its_owner);
        $run!(
            refresh,
            refresh_without_a_new_refresh_token_keeps_the_old_one
        );
        $run!(refresh, refresh_with_a_new_refresh_token_replaces_it);
        $run!(
            refresh,
            refresh_success_clears_the_failure_and_releases_the_lease
        );
        $run!(
            refresh,
            refresh_failure_stores_the_outcome_and_releases_the_lease
        );
        $run!(
            refresh,
            late_refresh_does_not_revive_a_disconnected_connection
        );
        $run!(
            refresh,
            reconnect_replaces_tokens_and_account_and_clears_the_failure
        );
        $run!(events, events_list_newest_first_and_page_with_before_seq);
        $run!(
            events,
            events_are_listed_only_for_their_connection_and_workspace
        );
    };
}
pub(crate) use conformance_suite;
