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
			switch o.output {
			case "", "text":
				_, err := fmt.Fprintln(streams.Out, info.String())
				return err
			case "json", "yaml":
				_, err := writeData(streams.Out, o.output, info)
				return err
			default:
				return fmt.Errorf("--output %q: must be text, json or yaml", o.output)
			}
		},
	}
	c.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text, json or yaml")
	_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}
