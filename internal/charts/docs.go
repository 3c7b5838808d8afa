package charts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Markers around the generated values table in a chart README.
const (
	docsBegin = "<!-- values:begin (generated from values.yaml by `make docs`; do not edit) -->"
	docsEnd   = "<!-- values:end -->"
)

// ValueDoc documents one value of a chart.
type ValueDoc struct {
	Key         string // dotted path, e.g. sync.cronJob.schedule
	Type        string
	Default     string
	Description string
}

// ValuesDocs reads a values.yaml and returns one entry per documented value.
// A value is documented by a comment starting with "# --" directly above its
// key; a documented map is one entry (its children are not listed), an
// undocumented map is walked into, and an undocumented leaf is an error.
func ValuesDocs(valuesYAML []byte) ([]ValueDoc, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(valuesYAML, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	var out []ValueDoc
	var missing []string
	var walk func(prefix string, m *yaml.Node)
	walk = func(prefix string, m *yaml.Node) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			key := k.Value
			if prefix != "" {
				key = prefix + "." + k.Value
			}
			desc, ok := description(k.HeadComment)
			switch {
			case ok:
				out = append(out, ValueDoc{Key: key, Type: yamlType(v), Default: render(v), Description: desc})
			case v.Kind == yaml.MappingNode && len(v.Content) > 0:
				walk(key, v)
			default:
				missing = append(missing, key)
			}
		}
	}
	walk("", doc.Content[0])
	if len(missing) > 0 {
		return out, fmt.Errorf("values without a `# --` comment: %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// description extracts the text of the last "# --" comment block.
func description(head string) (string, bool) {
	lines := strings.Split(head, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "# --") {
			start = i
		}
	}
	if start < 0 {
		return "", false
	}
	var parts []string
	for i, l := range lines[start:] {
		l = strings.TrimSpace(l)
		if i == 0 {
			l = strings.TrimPrefix(l, "# --")
		} else {
			l = strings.TrimPrefix(l, "#")
		}
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " "), true
}

func yamlType(v *yaml.Node) string {
	switch v.Kind {
	case yaml.MappingNode:
		return "object"
	case yaml.SequenceNode:
		return "list"
	}
	switch v.Tag {
	case "!!int":
		return "int"
	case "!!bool":
		return "bool"
	case "!!float":
		return "number"
	}
	return "string"
}

func render(v *yaml.Node) string {
	if v.Kind == yaml.ScalarNode {
		if v.Tag == "!!str" {
			return fmt.Sprintf("%q", v.Value)
		}
		return v.Value
	}
	var x any
	if err := v.Decode(&x); err != nil {
		return "(" + err.Error() + ")"
	}
	data, err := json.Marshal(x)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return string(data)
}

// ValuesTable renders the docs as a Markdown table.
func ValuesTable(docs []ValueDoc) string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Description |\n|---|---|---|---|\n")
	for _, d := range docs {
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", d.Key, d.Type, strings.ReplaceAll(d.Default, "|", `\|`), strings.ReplaceAll(d.Description, "|", `\|`))
	}
	return b.String()
}

// ReadmeWithValues returns readme with the text between the values markers
// replaced by the table generated from valuesYAML.
func ReadmeWithValues(readme, valuesYAML []byte) ([]byte, error) {
	docs, err := ValuesDocs(valuesYAML)
	if err != nil {
		return nil, err
	}
	s := string(readme)
	i, j := strings.Index(s, docsBegin), strings.Index(s, docsEnd)
	if i < 0 || j < i {
		return nil, fmt.Errorf("README has no %q ... %q section", docsBegin, docsEnd)
	}
	return []byte(s[:i] + docsBegin + "\n" + ValuesTable(docs) + s[j:]), nil
}

// UpdateReadme regenerates the values table of a chart's README.md in place
// and reports whether it changed.
func UpdateReadme(chartDir string) (bool, error) {
	readmePath, valuesPath := chartDir+"/README.md", chartDir+"/values.yaml"
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		return false, err
	}
	values, err := os.ReadFile(valuesPath)
	if err != nil {
		return false, err
	}
	updated, err := ReadmeWithValues(readme, values)
	if err != nil {
		return false, fmt.Errorf("%s: %w", readmePath, err)
	}
	if bytes.Equal(updated, readme) {
		return false, nil
	}
	return true, os.WriteFile(readmePath, updated, 0o644)
}
