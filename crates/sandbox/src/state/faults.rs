//! Injected failures (`PUT /_sandbox/faults`): what the next token-endpoint or REST calls do
//! instead of (or on top of) answering normally, and the validation of the armed set.

use serde::{Deserialize, Serialize};

/// When an `after_grant` fault holds back a token answer that was already granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterGrant {
    /// The answer is sent `delay_ms` after the grant.
    Delay,
    /// The answer is never sent: the call is held until the client disconnects.
    Drop,
}

/// One injected failure for the next `count` calls (of `grant_type` only, when given):
/// - `status`: stall `delay_ms`, then answer that status without processing the call;
/// - `delay_ms` alone: stall, then process and answer normally;
/// - `after_grant`: process the call completely (the grant is made), then answer only after
///   `delay_ms` (`delay`) or never (`drop`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default)]
    pub delay_ms: u64,
    #[serde(default = "one")]
    pub count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_grant: Option<AfterGrant>,
    /// Token endpoint only: the fault applies to calls of this `grant_type` alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<String>,
}

fn one() -> u64 {
    1
}

/// Faults armed per surface.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    #[serde(default)]
    pub token_endpoint: Option<Fault>,
    #[serde(default)]
    pub rest_api: Option<Fault>,
}

impl Faults {
    /// Takes one shot of a fault, disarming it when its count runs out. A fault limited to a
    /// grant type lets calls of other grant types through untouched (`grant_type` is `None`
    /// for surfaces without one).
    pub fn take(slot: &mut Option<Fault>, grant_type: Option<&str>) -> Option<Fault> {
        let fault = slot.as_mut()?;
        if fault.count == 0 {
            *slot = None;
            return None;
        }
        if fault
            .grant_type
            .as_deref()
            .is_some_and(|g| Some(g) != grant_type)
        {
            return None;
        }
        fault.count -= 1;
        let shot = fault.clone();
        if fault.count == 0 {
            *slot = None;
        }
        Some(shot)
    }

    /// Refuses combinations that mean nothing, with a message saying which.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(fault) = &self.token_endpoint {
            validate_token_fault(fault)?;
        }
        if let Some(fault) = &self.rest_api
            && (fault.after_grant.is_some() || fault.grant_type.is_some())
        {
            return Err("rest_api faults take no after_grant or grant_type".into());
        }
        Ok(())
    }
}

fn validate_token_fault(fault: &Fault) -> Result<(), String> {
    match fault.after_grant {
        Some(_) if fault.status.is_some() => Err(
            "token_endpoint: after_grant cannot be combined with status (a status fault answers \
             before the grant is made)"
                .into(),
        ),
        Some(AfterGrant::Delay) if fault.delay_ms == 0 => {
            Err("token_endpoint: after_grant \"delay\" needs delay_ms > 0".into())
        }
        Some(AfterGrant::Drop) if fault.delay_ms > 0 => Err(
            "token_endpoint: after_grant \"drop\" never answers, so delay_ms does not apply".into(),
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(grant_type: Option<&str>, count: u64) -> Fault {
        Fault {
            status: Some(503),
            delay_ms: 0,
            count,
            after_grant: None,
            grant_type: grant_type.map(str::to_owned),
        }
    }

    #[test]
    fn a_fault_for_one_grant_type_lets_other_grant_types_through() {
        let mut slot = Some(fault(Some("refresh_token"), 2));
        assert_eq!(Faults::take(&mut slot, Some("authorization_code")), None);
        assert!(Faults::take(&mut slot, Some("refresh_token")).is_some());
        assert!(Faults::take(&mut slot, Some("refresh_token")).is_some());
        assert_eq!(slot, None);
    }
}
