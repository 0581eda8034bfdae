#!/usr/bin/env bash
# Builds mws in release mode and installs it under PREFIX (default ~/.local):
#   PREFIX/bin/{mws,mwsd,mws-emulator}
#   PREFIX/lib/mws/plugins/libmws_plugin_{csv,expiry,webhook}.so   (mwsd finds them)
#   PREFIX/share/man/man1/mws.1
#   PREFIX/share/bash-completion/completions/mws
#   PREFIX/share/zsh/site-functions/_mws
#   PREFIX/share/fish/vendor_completions.d/mws.fish
# Usage: scripts/install.sh [PREFIX]
# Set MWS_INSTALL_NO_BUILD=1 to install what is already built, from
# MWS_INSTALL_FROM (default target/release; the tests use target/debug).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${1:-$HOME/.local}"
case "$prefix" in
  /*) ;;
  *) prefix="$PWD/$prefix" ;;
esac

if [ "${MWS_INSTALL_NO_BUILD:-0}" != 1 ]; then
  cargo build --release --locked -p mws -p mwsd -p mws-emulator \
    -p mws-plugin-csv -p mws-plugin-expiry -p mws-plugin-webhook
fi
release="${MWS_INSTALL_FROM:-target/release}"
for program in mws mwsd mws-emulator; do
  [ -x "$release/$program" ] || { echo "install.sh: $release/$program was not built" >&2; exit 1; }
done

# Files are written under a temporary name and renamed into place, so a
# running mwsd never loads a half-written plugin.
put() { # put SOURCE TARGET MODE
  local target="$2" tmp
  mkdir -p "$(dirname "$target")"
  tmp="$(dirname "$target")/.$(basename "$target").tmp.$$"
  cp "$1" "$tmp"
  chmod "$3" "$tmp"
  mv -f "$tmp" "$target"
}
emit() { # emit TARGET COMMAND...: a generated file
  local target="$1" tmp
  shift
  mkdir -p "$(dirname "$target")"
  tmp="$(dirname "$target")/.$(basename "$target").tmp.$$"
  "$@" >"$tmp"
  chmod 644 "$tmp"
  mv -f "$tmp" "$target"
}

for program in mws mwsd mws-emulator; do
  put "$release/$program" "$prefix/bin/$program" 755
done
plugins="$prefix/lib/mws/plugins"
mkdir -p "$plugins"
chmod go-w "$prefix/lib/mws" "$plugins"
for plugin in csv expiry webhook; do
  put "$release/libmws_plugin_$plugin.so" "$plugins/libmws_plugin_$plugin.so" 644
done
mws="$prefix/bin/mws"
emit "$prefix/share/man/man1/mws.1" "$mws" man
emit "$prefix/share/bash-completion/completions/mws" "$mws" completions bash
emit "$prefix/share/zsh/site-functions/_mws" "$mws" completions zsh
emit "$prefix/share/fish/vendor_completions.d/mws.fish" "$mws" completions fish

echo "installed mws into $prefix"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "note: $prefix/bin is not on PATH; add it (e.g. in ~/.profile)" ;;
esac
