# Prints every failure of a TAP log with the test file and subtests it belongs to, and the start
# of its diagnostic block (where, what was found, what was wanted).
function depth(line) { match(line, /^ */); return int(RLENGTH / 4) }
expect && /^ *---$/ { expect = 0; diag = 1; shown = 0; match($0, /^ */); base = RLENGTH; next }
{ expect = 0 }
diag && /^ *\.\.\.$/ { diag = 0; next }
diag { if (shown++ < 12) print "      " substr($0, base + 1); next }
/^ *# Subtest: / {
  d = depth($0); name = $0; sub(/^ *# Subtest: /, "", name); path[d] = name; next
}
/^ *not ok / {
  d = depth($0); where = ""
  for (i = 0; i < d; i++) where = where path[i] " > "
  l = $0; sub(/^ *not ok ([0-9]+ )?- /, "", l)
  print "  not ok: " where l
  expect = 1
}
