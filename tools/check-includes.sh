#!/usr/bin/env bash
# Fails when an #include points the wrong way (DESIGN.md §2): each module may include only the
# modules below it, and third-party headers stay in their own folder.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A allowed=(
  [base]="base"
  [crypto]="base crypto"
  [store]="base store"
  [vault]="base crypto store vault"
  [auth]="base crypto store auth"
  [custody]="base crypto custody"
  [http]="base http"
  [audit]="base crypto audit"
  [metrics]="base metrics"
  [events]="base crypto store events"
  [api]="base crypto store vault auth audit events http metrics api"
  [server]="base crypto store vault auth audit events http metrics api custody server"
  [client]="base client"
  # cli: the audit module is base+crypto only, so `coffer audit verify` can check files offline
  [cli]="base crypto audit client cli"
)
declare -A third=(
  [openssl]="crypto http" [event2]="http" [sqlite3.h]="store" [jansson.h]="base"
  [curl]="client" [ini.h]="server" [p11-kit-1]="custody"
)
bad=0
for f in $(git ls-files 'src/*.c' 'src/*.h'); do
  mod=$(echo "$f" | cut -d/ -f2)
  if [ -z "${allowed[$mod]+x}" ]; then
    echo "$f: module $mod is not in tools/check-includes.sh's table (say what it may include)"
    bad=1
    continue
  fi
  while IFS= read -r inc; do
    dir=${inc%%/*}
    if [ "$dir" != "$inc" ] && [ -d "src/$dir" ]; then
      case " ${allowed[$mod]} " in *" $dir "*) ;; *) echo "$f: includes $inc (module $mod may not depend on $dir)"; bad=1;; esac
    fi
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
  while IFS= read -r inc; do
    key=${inc%%/*}
    [ -n "${third[$key]+x}" ] || continue
    case " ${third[$key]} " in *" $mod "*) ;; *) echo "$f: includes <$inc> outside ${third[$key]}/"; bad=1;; esac
    if [ "$key" = jansson.h ] && [ "$f" != src/base/json.c ]; then echo "$f: jansson outside base/json.c"; bad=1; fi
  done < <(sed -n 's/^#include <\([^>]*\)>.*/\1/p' "$f")
done
exit $bad
