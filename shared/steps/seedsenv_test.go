package steps_test

import (
	"flag"
	"fmt"
	"os"
)

// KAIZEN_STORM_SEEDS sets the default of -seeds (the randomized storms'
// count) for runs that cannot pass test flags to this package alone: the
// race run of `make test` (one `go test -race ./...`, where -args would
// reach every package) and `make mutate` (Gremlins runs `go test` per
// mutant). A -seeds flag on the command line still wins.
func init() {
	v := os.Getenv("KAIZEN_STORM_SEEDS")
	if v == "" {
		return
	}
	if err := flag.Set("seeds", v); err != nil {
		panic(fmt.Sprintf("KAIZEN_STORM_SEEDS=%q: %v", v, err))
	}
}
