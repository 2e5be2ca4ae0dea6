//! Behavioural tests of the client against in-test HTTP stubs (scripted answers, raw TCP
//! misbehaviour) and against the LoxiLB simulator.

mod stub;
mod with_stub;
// Integration tests against the `loxilb-sim` crate. Enable this line once the simulator
// (branch h/sim) is merged into main; they passed 10/10 against h/sim at 6fdfdb6.
// mod with_sim;
