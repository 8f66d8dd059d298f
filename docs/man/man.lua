-- Pandoc filter: turns the markdown of docs/ into man pages (docs/man/README.md).
-- Tables become tagged paragraphs (.TP), which man renders at any width without tbl's
-- "table wider than line width"; links between docs become references to the man page or to
-- the installed document; level-1 headings are upper-cased, as man sections are; sections
-- titled "Tests" or "Benchmark" (for developers of digestfs) are left out.

-- <!-- include FILE --> on a line of its own in a page's source (docs/man/NAME.SECTION.md) is
-- replaced by FILE (relative to the page's folder), read as markdown.
local function include(raw)
  if raw.format ~= "html" then return nil end
  local file = raw.text:match("^<!%-%-%s*include%s+(%S+)%s*%-%->$")
  if not file then return nil end
  local dir = (PANDOC_STATE.input_files[1] or ""):match("^(.*)/") or "."
  local f = assert(io.open(dir .. "/" .. file, "r"))
  local text = f:read("a")
  f:close()
  return pandoc.read(text, "gfm").blocks
end

local man_of = {
  ["mount.md"] = "digestfs(8)",
  ["cli.md"] = "digestctl(8)",
  ["cli-store.md"] = "digestctl(8)",
  ["cli-import.md"] = "digestctl(8)",
  ["policy.md"] = "digestfs-policy(5)",
  ["measurement.md"] = "digestfs(8)",
  ["containers.md"] = "digestfs(8)",
}
local dropped_sections = { ["Tests"] = true, ["Benchmark"] = true, ["Benchmarks"] = true }
local doc_dir = "/usr/share/doc/digestfs/docs/"

local function cell_blocks(cell)
  -- pandoc 2.17: a cell is a table with a 'contents' list of blocks.
  return cell.contents or cell
end

local function plain_text(blocks)
  return pandoc.utils.stringify(pandoc.Div(blocks))
end

local function Table(t)
  local heads = {}
  if #t.head.rows > 0 then
    for i, cell in ipairs(t.head.rows[1].cells) do heads[i] = plain_text(cell_blocks(cell)) end
  end
  local items = {}
  for _, body in ipairs(t.bodies) do
    for _, row in ipairs(body.body) do
      local term = pandoc.utils.blocks_to_inlines(cell_blocks(row.cells[1]))
      local defn = {}
      for i = 2, #row.cells do
        local blocks = cell_blocks(row.cells[i])
        if #blocks > 0 then
          if #row.cells > 2 and heads[i] and heads[i] ~= "" then
            local inl = pandoc.utils.blocks_to_inlines(blocks)
            table.insert(inl, 1, pandoc.Space())
            table.insert(inl, 1, pandoc.Emph({ pandoc.Str(heads[i] .. ":") }))
            table.insert(defn, pandoc.Para(inl))
          else
            for _, b in ipairs(blocks) do table.insert(defn, b) end
          end
        end
      end
      table.insert(items, { term, { defn } })
    end
  end
  return pandoc.DefinitionList(items)
end

local function Link(l)
  local target = l.target
  if target:match("^%a+:") then return nil end -- http:, mailto:
  local file, anchor = target:match("^([^#]*)(#?.*)$")
  file = file:gsub("^.*/", "")
  if not file:match("%.md$") then return nil end
  local ref = man_of[file] or (doc_dir .. file)
  local text = pandoc.utils.stringify(l.content)
  if text == file or text == target then
    return pandoc.Strong({ pandoc.Str(ref) })
  end
  local out = l.content
  out:insert(pandoc.Space())
  out:insert(pandoc.Str("(" .. ref .. ")"))
  return out
end

local function Header(h)
  if h.level == 1 then
    return pandoc.Header(1, pandoc.Str(pandoc.text.upper(pandoc.utils.stringify(h.content))))
  end
  return nil
end

-- In a table cell, GitHub's markdown reads `a\|b` in a code span as "a|b"; pandoc keeps the
-- backslash.
local function Code(c)
  c.text = c.text:gsub("\\|", "|")
  return c
end

-- Drops each developer-only section: its heading and everything up to the next heading of the
-- same or a higher level.
local function Pandoc(doc)
  local out = pandoc.List()
  local skip_level = nil
  for _, b in ipairs(doc.blocks) do
    if b.t == "Header" and skip_level and b.level <= skip_level then skip_level = nil end
    if not skip_level and b.t == "Header" and dropped_sections[pandoc.utils.stringify(b.content)] then
      skip_level = b.level
    end
    if not skip_level then out:insert(b) end
  end
  -- No hyphenation, ragged right: options and paths stay whole and no line needs adjusting.
  out:insert(1, pandoc.RawBlock("man", ".nh\n.ad l"))
  doc.blocks = out
  return doc
end

return {
  { RawBlock = include },
  { Table = Table, Link = Link, Header = Header, Code = Code },
  { Pandoc = Pandoc },
}
