//! Behavioural tests of the client against in-test HTTP stubs (scripted answers, raw TCP
//! misbehaviour) and against the LoxiLB simulator.

mod stub;
mod with_sim;
mod with_stub;
