//! Reading a secret the user types or pipes in: a hidden prompt on a
//! terminal, or one line of standard input when asked (`--secret-stdin`) —
//! never argv, where every user of the machine could read it. Used by
//! `mws auth set` (API secrets) and `mws webhooks secret` (signing secrets).

use crate::term;
use mws_ipc::Secret;
use std::io::BufRead;
use zeroize::Zeroizing;

/// Reads a secret without echo from the terminal (`prompt`), or one line
/// from standard input when `from_stdin`.
pub(crate) fn read_secret(from_stdin: bool, prompt: &str) -> anyhow::Result<Secret> {
    let secret: Zeroizing<String> = if from_stdin {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin().lock().read_line(&mut line)?;
        Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_string())
    } else if term::is_tty(0) {
        Zeroizing::new(rpassword::prompt_password(prompt)?)
    } else {
        anyhow::bail!(
            "standard input is not a terminal: pass --secret-stdin to read the secret from it"
        );
    };
    if secret.trim().is_empty() {
        anyhow::bail!("no secret given");
    }
    Ok(Secret::new(secret.trim().to_string()))
}
