//! The backend-neutral conformance suite: one `pub async fn` per behaviour, taking the store
//! under test, and [`conformance_suite!`] listing them all so each backend instantiates every
//! one as a test with its own fresh database.

pub mod connection_pages;
pub mod connections;
pub mod connectors;
pub mod events;
pub mod refresh;
pub mod sessions;
pub mod webhooks;
pub mod workspaces;

/// Invokes `$run!(module, function)` for every conformance test, listed by module.
macro_rules! conformance_suite {
    ($run:ident) => {
        crate::conformance::conformance_suite!(@each $run,
            workspaces: [
                ensure_workspace_creates_once_and_returns_the_same_workspace,
                api_key_is_found_by_id_with_its_hash,
                api_key_with_an_existing_id_is_a_conflict,
                migrate_again_and_ping_succeed,
            ]
            connectors: [
                upsert_connector_creates_then_replaces_and_bumps_the_generation,
                connectors_are_listed_by_name_and_only_in_their_workspace,
                a_jwt_bearer_connector_keeps_its_key_until_it_changes_grant_and_rotates_in_two_steps,
                delete_connector_reports_deleted_not_found_or_in_use,
                recreated_connector_counts_as_changed_for_connections_that_failed_on_it,
                a_connection_degraded_by_its_connector_is_due_once_the_connector_changes,
            ]
            sessions: [
                connect_session_reads_back_with_its_verifier,
                connect_session_is_consumed_once_then_already_used,
                expired_connect_session_is_not_consumable,
                unknown_state_is_unknown,
                concurrent_callbacks_consume_a_state_exactly_once,
                second_session_with_the_same_state_is_a_conflict,
                a_page_session_lives_until_it_ends_or_expires_and_only_for_its_workspace,
            ]
            connections: [
                inserted_connection_reads_back_active_with_its_account,
                connection_with_an_existing_id_is_a_conflict,
                another_workspace_sees_no_connection_and_no_token,
                every_connection_method_is_confined_to_its_workspace,
                list_connections_applies_each_filter_newest_first,
                current_token_returns_the_access_token_and_its_times,
                touch_last_used_keeps_the_latest_use,
                an_annotation_marks_only_an_active_connection,
                disconnect_erases_the_tokens_once_with_its_event,
                due_for_retry_lists_due_retries_of_degraded_and_due_rechecks_of_expired_connections,
                approvals_after_count_the_same_account_on_the_same_connector_only,
                a_rotation_is_not_a_new_approval,
                idle_connections_lists_active_ones_with_a_refresh_token_unused_since_the_cutoff_oldest_first,
                a_claimed_job_is_skipped_by_other_instances_until_its_claim_lapses,
            ]
            connection_pages: [
                pages_visit_every_connection_exactly_once_newest_first,
                connections_created_in_the_same_millisecond_are_ordered_by_id_across_pages,
                paging_is_stable_under_inserts_and_status_changes_between_pages,
                filters_keep_working_across_pages,
                counts_are_per_connector_and_status_of_the_workspace,
                counts_by_status_span_every_workspace,
            ]
            refresh: [
                refresh_context_reads_the_connection_its_tokens_and_its_connector_at_once,
                begin_attempt_is_taken_once_under_contention,
                a_second_caller_is_told_held_while_the_lease_lives_and_moved_once_the_token_moved,
                a_lapsed_lease_is_taken_by_another_owner,
                an_attempt_that_never_landed_is_reported_to_the_next_one,
                the_latest_interrupted_attempt_is_the_one_reported,
                renew_lease_extends_only_the_owners_lease,
                abandon_attempt_clears_the_lease_and_record_of_its_owner_only,
                a_landed_refresh_stores_its_tokens_and_events_and_ends_the_attempt,
                a_refresh_without_rotation_keeps_the_refresh_token_and_the_instance,
                a_lifetime_warning_landed_with_a_refresh_is_remembered_until_a_reconnect,
                a_refresh_outcome_fenced_by_a_stale_version_does_not_land,
                a_landed_failure_stores_its_outcome_and_ends_the_attempt,
                an_unanswered_failure_keeps_the_start_of_its_attempt,
                a_salvaged_refresh_token_replaces_the_stored_one,
                adjust_expiry_changes_the_expiry_only_at_the_given_version,
                late_refresh_does_not_revive_a_disconnected_connection,
                reconnect_replaces_tokens_and_account_and_clears_the_failure,
                reconnect_refuses_a_disconnected_connection,
                an_annotation_marks_an_active_connection_and_the_next_refresh_clears_it,
                a_landing_changes_its_connectors_policy_evidence_with_its_outcome,
                a_lapsed_owners_landing_leaves_the_new_owners_lease_and_record,
            ]
            events: [
                events_list_newest_first_and_page_backwards_from_each_pages_next,
                retention_deletes_events_and_connect_sessions_older_than_the_cutoff,
                events_are_listed_only_for_their_connection_and_workspace,
                the_event_cap_keeps_the_newest_events_of_connections_active_since_the_given_time,
            ]
            webhooks: [
                a_change_writes_one_delivery_per_webhook_that_wants_its_event,
                a_refresh_landing_tells_its_status_change_and_a_stale_one_tells_nothing,
                a_claimed_delivery_is_skipped_by_other_instances_and_recorded_once,
                a_failed_attempt_is_due_again_at_its_retry_time_with_the_same_body,
                a_webhook_failing_for_three_days_is_disabled_and_told_then_enabled_again,
                a_rotated_secret_signs_next_to_the_new_one_until_its_time,
                deliveries_page_newest_first_and_go_with_their_webhook,
                retention_deletes_finished_deliveries_of_old_events_and_keeps_pending_ones,
            ]
        );
    };
    (@each $run:ident, $($module:ident: [$($name:ident,)+])+) => {
        $($($run!($module, $name);)+)+
    };
}
pub(crate) use conformance_suite;
