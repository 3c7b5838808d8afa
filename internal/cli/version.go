package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vanlink/vanlink/pkg/version"
)

type versionOptions struct {
	output string
}

func newVersionCommand(streams IOStreams) *cobra.Command {
	o := &versionOptions{}
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the version of vanlink",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			info := version.Get()
			switch o.output {
			case "", "text":
				_, err := fmt.Fprintln(streams.Out, info.String())
				return err
			case "json":
				enc := json.NewEncoder(streams.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			default:
				return fmt.Errorf("--output %q: must be text or json", o.output)
			}
		},
	}
	c.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return c
}
