package cli

import (
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
			// --output is an enum flag: Set refused anything else.
			if o.output == "text" {
				_, err := fmt.Fprintln(streams.Out, info.String())
				return err
			}
			_, err := writeData(streams.Out, o.output, info)
			return err
		},
	}
	c.Flags().VarP(newEnum(&o.output, "text", "text", "json", "yaml"), "output", "o", "output format: text, json or yaml")
	return c
}
