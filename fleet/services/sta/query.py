"""Resource paths and query options of the SensorThings API, run against the entity sources.

A request is a path (`Things(7)/Datastreams`, `Observations(81)/result/$value`, ...) and the options
$top, $skip, $count, $orderby, $select, $expand (nested, with its own options in parentheses), $filter.
Collections answer `{"@iot.count"?, "value": [...], "@iot.nextLink"?}`; every entity carries `@iot.id`,
`@iot.selfLink` and a `<Nav>@iot.navigationLink` per relation, as section 9 of the standard shows.
"""

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from fleet.services.sta.entities import ENTITIES, EntityType
from fleet.services.sta.filter import FilterError, parse_filter

DEFAULT_TOP = 100
MAX_TOP = 1000
MAX_EXPAND_DEPTH = 4
NEXT_LINK_SAFE = "$(),/'"  # keep the options readable in @iot.nextLink
OPTIONS = ("$top", "$skip", "$count", "$orderby", "$select", "$expand", "$filter")


class NotFound(LookupError):
    pass


@dataclass
class Options:
    top: int = DEFAULT_TOP
    skip: int = 0
    count: bool = False
    orderby: list[tuple[str, bool]] = field(default_factory=list)  # (path, descending)
    select: list[str] | None = None
    expand: dict[str, "Options"] = field(default_factory=dict)
    filter: str | None = None
    given: dict[str, str] = field(default_factory=dict)  # as the client wrote them (for nextLink)


# --- option parsing -------------------------------------------------------------------------------------
def _split(text: str, sep: str) -> list[str]:
    """Split at `sep` outside parentheses and quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
            if depth < 0:
                raise FilterError(f"unbalanced ')' in {text!r}")
        elif not quoted and depth == 0 and ch == sep:
            parts.append(text[start:i])
            start = i + 1
    if depth or quoted:
        raise FilterError(f"unbalanced parentheses or quotes in {text!r}")
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _int(name: str, text: str, maximum: int | None = None) -> int:
    if not text.isdigit():
        raise FilterError(f"{name} must be a whole number ≥ 0, got {text!r}")
    value = int(text)
    if maximum is not None and value > maximum:
        raise FilterError(f"{name} is at most {maximum}, got {value}")
    return value


def parse_options(params: dict[str, str], entity: EntityType, depth: int = 0) -> Options:
    opts = Options(given={k: v for k, v in params.items() if k in OPTIONS})
    for key, value in params.items():
        if key not in OPTIONS:
            if key.startswith("$"):
                raise FilterError(f"unsupported query option {key}: supported are {', '.join(OPTIONS)}")
            continue
        if key == "$top":
            opts.top = _int("$top", value, MAX_TOP)
        elif key == "$skip":
            opts.skip = _int("$skip", value)
        elif key == "$count":
            if value not in ("true", "false"):
                raise FilterError(f"$count must be true or false, got {value!r}")
            opts.count = value == "true"
        elif key == "$orderby":
            for part in _split(value, ","):
                words = part.split()
                if len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
                    raise FilterError(f"$orderby takes 'property [asc|desc]', got {part!r}")
                opts.orderby.append((words[0], len(words) == 2 and words[1] == "desc"))
        elif key == "$select":
            opts.select = [s.strip() for s in value.split(",") if s.strip()]
        elif key == "$filter":
            opts.filter = value
        elif key == "$expand":
            for part in _split(value, ","):
                _add_expand(opts, entity, part, depth)
    return opts


def _add_expand(opts: Options, entity: EntityType, part: str, depth: int) -> None:
    if depth >= MAX_EXPAND_DEPTH:
        raise FilterError(f"$expand nested deeper than {MAX_EXPAND_DEPTH} levels")
    inner_text = ""
    if part.endswith(")") and "(" in part:
        head, inner_text = part[: part.index("(")], part[part.index("(") + 1 : -1]
    else:
        head = part
    name, _, rest = head.partition("/")
    link = entity.links.get(name)
    if link is None:
        raise FilterError(f"{entity.plural} have no relation {name!r} to $expand: {', '.join(entity.links)}")
    target = ENTITIES[link.target]
    child = opts.expand.get(name)
    if rest:  # Datastreams/Observations: expand the first, the rest inside it
        if child is None:
            child = Options()
        _add_expand(child, target, rest + (f"({inner_text})" if inner_text else ""), depth + 1)
    else:
        params = {}
        for item in _split(inner_text, ";") if inner_text else []:
            key, eq, value = item.partition("=")
            if not eq:
                raise FilterError(f"expected $option=value inside $expand, got {item!r}")
            params[key.strip()] = value.strip()
        merged = parse_options(params, target, depth + 1)
        if child is not None:
            merged.expand.update(child.expand)
        child = merged
    opts.expand[name] = child


# --- paths ----------------------------------------------------------------------------------------------
@dataclass
class Target:
    entity: EntityType
    where: list  # callables src -> expression
    single: bool
    prop: str | None = None
    value: bool = False  # /$value
    ref: bool = False  # /$ref
    path: str = ""  # the resource path, for nextLink


def _segment(text: str) -> tuple[str, int | None]:
    if text.endswith(")") and "(" in text:
        name, ident = text[: text.index("(")], text[text.index("(") + 1 : -1]
        if not ident.isdigit() or len(ident) > 18:
            raise NotFound(f"{name}({ident}): ids are whole numbers")
        return name, int(ident)
    return text, None


def resolve_path(session: Session, path: str) -> Target:
    segments = [s for s in path.split("/") if s]
    name, ident = _segment(segments[0])
    if name not in ENTITIES:
        raise NotFound(f"no entity set {name!r}: the service root lists them")
    entity = ENTITIES[name]
    where: list = [] if ident is None else [lambda src, i=ident, e=entity: e.match_id(src, i)]
    target = Target(entity, where, ident is not None, path=path)
    for seg in segments[1:]:
        if seg in ("$value", "$ref"):
            if seg == "$value" and target.prop is None:
                raise NotFound("$value follows a property")
            target.value, target.ref = seg == "$value", seg == "$ref"
            continue
        if target.prop is not None or target.value or target.ref:
            raise NotFound(f"nothing after {target.prop or '$ref'}")
        if not target.single:
            raise NotFound(f"address one entity before {seg!r} (e.g. {target.entity.plural}(1)/{seg})")
        name, ident = _segment(seg)
        row = fetch_one(session, target.entity, target.where)
        link = target.entity.links.get(name)
        if link is None:
            if ident is None and name in _property_names(target.entity):
                target.prop = name
                continue
            raise NotFound(f"{target.entity.name} has no property or relation {name!r}")
        entity = ENTITIES[link.target]
        where = [lambda src, mine=mine, theirs=theirs, v=row._mapping[mine]: src.c[theirs] == v
                 for mine, theirs in link.pairs]  # fmt: skip
        if ident is not None:
            if not link.many:
                raise NotFound(f"{name} is a single entity: no id after it")
            where.append(lambda src, i=ident, e=entity: e.match_id(src, i))
        target = Target(entity, where, (not link.many) or ident is not None, path=path)
    if target.ref and target.prop is not None:
        raise NotFound("$ref follows an entity or a collection")
    return target


def _property_names(entity: EntityType) -> set[str]:
    names = {p.split("/")[0] for p in entity.props if "@" not in p}
    sample = {"Thing": ["properties"], "Location": ["location"], "FeatureOfInterest": ["feature"],
              "Datastream": ["unitOfMeasurement"]}  # fmt: skip
    return (names | set(sample.get(entity.name, []))) - set(entity.links)


# --- running --------------------------------------------------------------------------------------------
def _column(entity: EntityType, src: Any, path: str) -> Any:
    """A property path as an SQL expression; a to-one relation path becomes a correlated subquery."""
    if path == "id":
        path = "@iot.id"
    if path in entity.props:
        return src.c[entity.props[path]]
    head, _, rest = path.partition("/")
    link = entity.links.get(head)
    if link is None or not rest:
        known = ", ".join(p for p in entity.props if not p.startswith("_"))
        raise FilterError(f"{entity.plural} have no property {path!r}: known are {known}")
    if link.many:
        raise FilterError(f"{head} is a collection: a filter path may only follow single relations")
    target = ENTITIES[link.target]
    inner = target.source().subquery()
    value = _column(target, inner, rest)
    join = and_(*(inner.c[theirs] == src.c[mine] for mine, theirs in link.pairs))
    return select(value).where(join).limit(1).scalar_subquery()


def _query(entity: EntityType, where: list, opts: Options | None) -> tuple[Any, Any]:
    src = entity.source().subquery()
    query = select(src)
    conditions = [w(src) for w in where]
    if opts and opts.filter:
        conditions.append(parse_filter(opts.filter, lambda p: _column(entity, src, p)))
    if conditions:
        query = query.where(and_(*conditions))
    return query, src


def fetch_one(session: Session, entity: EntityType, where: list, opts: Options | None = None) -> Any:
    query, _ = _query(entity, where, opts)
    row = session.execute(query.limit(1)).first()
    if row is None:
        raise NotFound(f"no such {entity.name}")
    return row


def fetch_many(
    session: Session, entity: EntityType, where: list, opts: Options
) -> tuple[list, bool, int | None]:
    """A page of rows, whether there are more, and the total when $count=true."""
    query, src = _query(entity, where, opts)
    total = None
    if opts.count:
        total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    order = [
        (_column(entity, src, p).desc() if desc else _column(entity, src, p).asc())
        for p, desc in opts.orderby
    ]
    order.append(src.c.id.asc())  # a stable order makes $skip paging exact
    rows = session.execute(query.order_by(*order).offset(opts.skip).limit(opts.top + 1)).all()
    return rows[: opts.top], len(rows) > opts.top, total


# --- shaping --------------------------------------------------------------------------------------------
def _selected(entity: EntityType, out: dict, chosen: list[str]) -> dict:
    keep = set()
    for name in chosen:
        if name in ("id", "@iot.id"):
            keep.add("@iot.id")
        elif name == "@iot.selfLink":
            keep.add(name)
        elif name in entity.links:
            keep.add(f"{name}@iot.navigationLink")
        elif name in out:
            keep.add(name)
        else:
            raise FilterError(f"$select: {entity.plural} have no property {name!r}")
    return {k: v for k, v in out.items() if k in keep}


def _next_link(base: str, opts: Options) -> str:
    params = {**opts.given, "$top": str(opts.top), "$skip": str(opts.skip + opts.top)}
    return f"{base}?{urlencode(params, safe=NEXT_LINK_SAFE)}"


def render(session: Session, entity: EntityType, row: Any, opts: Options, root: str) -> dict:
    self_link = f"{root}/{entity.plural}({row.id})"
    out: dict = {"@iot.id": row.id, "@iot.selfLink": self_link, **entity.render(row)}
    for name in entity.links:
        out[f"{name}@iot.navigationLink"] = f"{self_link}/{name}"
    if opts.select is not None:
        out = _selected(entity, out, opts.select)
    for name, child in opts.expand.items():
        link = entity.links[name]
        target = ENTITIES[link.target]
        where = [
            lambda src, theirs=theirs, v=row._mapping[mine]: src.c[theirs] == v for mine, theirs in link.pairs
        ]
        if link.many:
            rows, more, total = fetch_many(session, target, where, child)
            if total is not None:
                out[f"{name}@iot.count"] = total
            out[name] = [render(session, target, r, child, root) for r in rows]
            if more:
                out[f"{name}@iot.nextLink"] = _next_link(f"{self_link}/{name}", child)
        else:
            try:
                out[name] = render(session, target, fetch_one(session, target, where, child), child, root)
            except NotFound:
                out[name] = None
    return out


def answer(session: Session, path: str, params: dict[str, str], root: str) -> Any:
    """The JSON (or, for /$value, the plain value) for a resource path and its query options."""
    target = resolve_path(session, path)
    opts = parse_options(params, target.entity)
    if target.single:
        row = fetch_one(session, target.entity, target.where)
        if target.ref:
            return {"@iot.selfLink": f"{root}/{target.entity.plural}({row.id})"}
        shaped = render(session, target.entity, row, opts if target.prop is None else Options(), root)
        if target.prop is not None:
            value = shaped.get(target.prop)
            return ("$value", value) if target.value else {target.prop: value}
        return shaped
    rows, more, total = fetch_many(session, target.entity, target.where, opts)
    body: dict = {}
    if total is not None:
        body["@iot.count"] = total
    if target.ref:
        body["value"] = [{"@iot.selfLink": f"{root}/{target.entity.plural}({r.id})"} for r in rows]
    else:
        body["value"] = [render(session, target.entity, r, opts, root) for r in rows]
    if more:
        body["@iot.nextLink"] = _next_link(f"{root}/{target.path.strip('/')}", opts)
    return body
