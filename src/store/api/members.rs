//! Pool member counts at acceptance: LoxiLB serves at most 32 endpoints per rule, so
//! an event that would make a pool's 33rd serving member is refused before it is
//! journaled (see each backend's journal for how the count is kept exact).

/// One change an event makes to a pool's member set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberChange {
    /// The pool's member set is replaced (a batch update, a pool create): the members
    /// follow as `Put`s.
    Clear,
    /// The member exists with these settings (a create, or a member of a batch).
    Put {
        member_id: String,
        admin_state_up: bool,
        weight: u16,
    },
    /// An update: the fields given replace the member's current ones; `base` stands
    /// for the member when it is not known here (Octavia's old dict).
    Update {
        member_id: String,
        admin_state_up: Option<bool>,
        weight: Option<u16>,
        base: (bool, u16),
    },
    /// The member is deleted.
    Remove { member_id: String },
}

/// When the count refuses an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// The member set is given whole (batch, pool create): refused when above the limit.
    Whole,
    /// One member changes: refused when it adds a serving member above the limit (a
    /// pool already above it from before this check is not made worse, nor blocked).
    Growth,
}

/// An event's changes to one pool and how they are checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolChanges {
    pub pool_id: String,
    pub changes: Vec<MemberChange>,
    pub limit: Limit,
    /// Most serving members the pool may have (the caller's LoxiLB limit).
    pub max_serving: usize,
    /// What the user sent that changes the pool (`member`, `members`, ...), echoed in
    /// the refusal.
    pub field: String,
}

/// The event would give a pool more serving members than allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooManyMembers {
    pub field: String,
    pub pool_id: String,
    pub serving: usize,
}
