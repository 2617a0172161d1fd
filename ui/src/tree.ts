//! The services tree: Marathon apps and pods arranged by the groups their ids imply, each
//! group with the counts of what it holds, flattened into the rows a virtualised list draws.
//! Pure: built from the lists and a set of collapsed groups, so `node --test` checks it.

/** The statuses a run spec (app or pod) shows, in Marathon's words. */
export const STATUSES = ['running', 'deploying', 'waiting', 'delayed', 'suspended'] as const;
export type Status = (typeof STATUSES)[number];

/** Apps and pods by status, plus the instances they want and have running (`wanted`, `up`:
 * not `running`, which is a status). */
export type Counts = { apps: number; pods: number; wanted: number; up: number } & Record<Status, number>;

export type Leaf = { kind: 'app' | 'pod'; id: string; item: any; status: Status };
export type Group = { id: string; groups: Map<string, Group>; leaves: Leaf[]; counts: Counts };

export type Row =
  | { kind: 'group'; id: string; depth: number; counts: Counts; expanded: boolean }
  | { kind: 'app' | 'pod'; id: string; depth: number; item: any; status: Status };

function zero(): Counts {
  return { apps: 0, pods: 0, wanted: 0, up: 0, running: 0, deploying: 0, waiting: 0, delayed: 0, suspended: 0 };
}

/** The group an id belongs to: `/a/b/c` → `/a/b`, `/c` → `/`. */
export function parentOf(id: string): string {
  const i = id.lastIndexOf('/');
  return i <= 0 ? '/' : id.slice(0, i);
}

/** Wanted and running instances of a leaf (apps: `instances`/`tasksRunning`; pods:
 * `scaling.instances` and the instances whose status is STABLE). */
export function instancesOf(leaf: { kind: 'app' | 'pod'; item: any }): { wanted: number; running: number } {
  if (leaf.kind === 'app') return { wanted: leaf.item.instances ?? 0, running: leaf.item.tasksRunning ?? 0 };
  const wanted = leaf.item.spec?.scaling?.instances ?? 0;
  const running = (leaf.item.instances ?? []).filter((i: any) => i.status === 'STABLE').length;
  return { wanted, running };
}

/** Builds the tree from the leaves (already searched: a group appears only if it holds a
 * leaf, so a search hides the groups it empties). Each group counts everything below it. */
export function buildTree(leaves: Leaf[]): Group {
  const root: Group = { id: '/', groups: new Map(), leaves: [], counts: zero() };
  const groupAt = (id: string): Group => {
    if (id === '/') return root;
    const parent = groupAt(parentOf(id));
    let g = parent.groups.get(id);
    if (!g) {
      g = { id, groups: new Map(), leaves: [], counts: zero() };
      parent.groups.set(id, g);
    }
    return g;
  };
  for (const leaf of leaves) {
    const group = groupAt(parentOf(leaf.id));
    group.leaves.push(leaf);
    const { wanted, running } = instancesOf(leaf);
    // Counted in every group up to the root, so a collapsed group still says what it holds.
    for (let g: string = parentOf(leaf.id); ; g = parentOf(g)) {
      const c = groupAt(g).counts;
      c[leaf.kind === 'app' ? 'apps' : 'pods'] += 1;
      c.wanted += wanted;
      c.up += running;
      c[leaf.status] += 1;
      if (g === '/') break;
    }
  }
  return root;
}

/** Ids compare as people read them: `app2` before `app10`. One collator, made once: making
 * one per comparison costs more than the sort. */
const byId = new Intl.Collator(undefined, { numeric: true }).compare;

/** The rows in display order: groups first (by id), then their apps and pods (by id); the
 * contents of a collapsed group are skipped. The root group itself is not a row. */
export function flattenTree(root: Group, collapsed: ReadonlySet<string>): Row[] {
  const rows: Row[] = [];
  const walk = (g: Group, depth: number) => {
    for (const child of [...g.groups.values()].sort((a, b) => byId(a.id, b.id))) {
      const expanded = !collapsed.has(child.id);
      rows.push({ kind: 'group', id: child.id, depth, counts: child.counts, expanded });
      if (expanded) walk(child, depth + 1);
    }
    for (const leaf of [...g.leaves].sort((a, b) => byId(a.id, b.id))) {
      rows.push({ kind: leaf.kind, id: leaf.id, depth, item: leaf.item, status: leaf.status });
    }
  };
  walk(root, 0);
  return rows;
}

/** The subtree at `id` (for a group's deep link), or undefined when no such group holds
 * anything. */
export function subtree(root: Group, id: string): Group | undefined {
  if (id === '/' || id === '') return root;
  const path: string[] = [];
  for (let g = id; g !== '/'; g = parentOf(g)) path.unshift(g);
  let at: Group | undefined = root;
  for (const step of path) at = at?.groups.get(step);
  return at;
}

/** A group's counts in words: `3 apps, 1 pod · 4/5 running · 1 deploying`. */
export function countsText(c: Counts): string {
  const parts = [`${c.apps} app${c.apps === 1 ? '' : 's'}`];
  if (c.pods) parts.push(`${c.pods} pod${c.pods === 1 ? '' : 's'}`);
  const states = STATUSES.filter((s) => s !== 'running' && c[s] > 0).map((s) => `${c[s]} ${s}`);
  return [parts.join(', '), `${c.up}/${c.wanted} instances running`, ...states].join(' · ');
}
