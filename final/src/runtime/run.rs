//! `run`: create, start, wait for the exit, delete; the exit code is the
//! container's.

use std::time::Duration;

use super::create::{CreateOptions, create};
use super::state::{State, Status};
use super::{Globals, delete, start};
use crate::Error;

/// Runs container `options.id` to its end.
pub fn run(globals: &Globals, options: &CreateOptions) -> Result<i32, Error> {
    create(globals, options)?;
    if let Err(e) = start::start(globals, &options.id) {
        let _ = delete::delete(globals, &options.id, true);
        return Err(e);
    }
    let code = loop {
        let state = State::load(globals, &options.id)?;
        if state.status == Status::Stopped
            && let Some(code) = state.exit_code
        {
            break code;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    delete::delete(globals, &options.id, true)?;
    Ok(code)
}
