#!/usr/bin/env bash
# The page's plain scripts (web/*.js) share one global scope: a second
# top-level `function f` silently replaces the first (no JavaScript error
# tells), so every top-level name is declared in one file only.
cd "$(dirname "$0")/../.." || exit 1
dups=$(grep -HoE '^(async +)?(function\*?|const|let|var|class) +[A-Za-z_$][A-Za-z0-9_$]*' web/*.js |
    sed -E 's/^([^:]*):.* ([A-Za-z_$][A-Za-z0-9_$]*)$/\2 \1/' | sort | awk '
    { n[$1]++; f[$1] = f[$1] " " $2 } END { for (k in n) if (n[k] > 1) print k ":" f[k] }')
if [ -n "$dups" ]; then
    echo "FAIL web_scripts_one_declaration: declared more than once: $(echo $dups)"
else
    echo "PASS web_scripts_one_declaration ($(ls web/*.js | wc -l) scripts)"
fi
