#!/usr/bin/env python3
# Reports file-level import cycles among the modules of cli/src (`use crate::…`,
# `super::…`, and a parent naming a child module). Usage:
#   python3 cli/tools/import_cycles.py cli/src [-v]
# Exit status 1 when there is a cycle.
# File-level import graph of cli/src from `use crate::…` / `crate::x::` paths.
import re, os, sys
root = sys.argv[1]
mods = {}
for dp, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs'): continue
        p = os.path.join(dp, f); rel = os.path.relpath(p, root)[:-3]
        name = rel.replace('/mod', '').replace('/', '::')
        mods[name] = open(p).read()
def top(path):  # crate::a::b -> the module file it refers to
    parts = path.split('::')
    for n in range(len(parts), 0, -1):
        cand = '::'.join(parts[:n])
        if cand in mods: return cand
    return None
graph = {}
for name, src in mods.items():
    src = src.split('#[cfg(test)]')[0]
    deps = set()
    for m in re.finditer(r'crate::\{([^}]*)\}', src):
        for item in m.group(1).split(','):
            t = top(item.strip().split(' ')[0])
            if t and t != name: deps.add(t)
    for m in re.finditer(r'crate::([a-z_:]+)(::\{([^}]*)\})?', src):
        base = m.group(1).rstrip(':')
        t = top(base)
        if m.group(3):
            for item in m.group(3).split(','):
                item = item.strip().split(' ')[0]
                if item and item != 'self':
                    t2 = top(base + '::' + item)
                    if t2 and t2 != name: deps.add(t2)
        if t and t != name: deps.add(t)
    for m in re.finditer(r'\bsuper::\{([^}]*)\}', src):
        parent = name.rsplit('::', 1)[0]
        for item in m.group(1).split(','):
            t = top(parent + '::' + item.strip().split(' ')[0]) or parent
            if t != name: deps.add(t)
    for m in re.finditer(r'\bsuper::([a-z_]+)', src):
        parent = name.rsplit('::', 1)[0] if '::' in name else None
        if parent:
            t = top(parent + '::' + m.group(1)) or parent
            if t != name: deps.add(t)
    for child in mods:
        if child.startswith(name + '::') and child.count('::') == name.count('::') + 1:
            if re.search(r'\b' + child.rsplit('::', 1)[1] + r'::', src): deps.add(child)
    if name == 'main':
        deps |= {m for m in mods if '::' not in m and re.search(r'\b' + m + r'::', src)}
    graph[name] = deps
# find cycles (SCCs)
index = {}; low = {}; stack = []; on = set(); sccs = []; i = [0]
def strong(v):
    index[v] = low[v] = i[0]; i[0] += 1; stack.append(v); on.add(v)
    for w in graph.get(v, ()):
        if w not in index: strong(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = stack.pop(); on.discard(w); c.append(w)
            if w == v: break
        if len(c) > 1: sccs.append(c)
for v in graph:
    if v not in index: strong(v)
for c in sccs: print('cycle:', ' <-> '.join(sorted(c)))
print('modules:', len(graph), 'cycles:', len(sccs))
if sccs: sys.exit(1)
if "-v" in sys.argv:
    for k in sorted(graph): print(k, '->', sorted(graph[k]))
