package analysis

import (
	"math"
	"sort"
)

// NormalCDF is Φ(z), the standard normal distribution function.
func NormalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// MannWhitney is the result of a Mann-Whitney U test of x against y.
type MannWhitney struct {
	// U is the statistic of x: the number of pairs (xi, yj) with xi > yj,
	// ties counting one half.
	U float64 `json:"u"`
	// Z is the normal approximation's score of U, with the continuity
	// correction and the tie correction of the variance.
	Z float64 `json:"z"`
	// Greater is the one-sided p-value of "x is stochastically greater
	// than y"; TwoSided the two-sided one.
	Greater  float64 `json:"greater"`
	TwoSided float64 `json:"twoSided"`
}

// MannWhitneyU tests whether x tends to be larger than y, as Kayenta's
// judge does for latency: it ranks the pooled sample (ties get their mean
// rank), takes U from x's rank sum, and approximates its distribution by
// the normal with mean n1·n2/2 and variance
//
//	n1·n2/12 · ((n+1) − Σ(t³−t) / (n(n−1)))
//
// (t: the size of each group of ties), with a continuity correction of ½,
// as scipy.stats.mannwhitneyu(method="asymptotic") does. With no spread
// at all (every value equal) the p-values are 1.
func MannWhitneyU(x, y []float64) MannWhitney {
	n1, n2 := float64(len(x)), float64(len(y))
	if n1 == 0 || n2 == 0 {
		return MannWhitney{Greater: 1, TwoSided: 1}
	}
	type v struct {
		val float64
		inX bool
	}
	all := make([]v, 0, len(x)+len(y))
	for _, a := range x {
		all = append(all, v{a, true})
	}
	for _, b := range y {
		all = append(all, v{b, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].val < all[j].val })
	n := n1 + n2
	var rx, ties float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].val == all[i].val {
			j++
		}
		t := float64(j - i)
		rank := float64(i+j+1) / 2 // mean of ranks i+1 .. j
		for k := i; k < j; k++ {
			if all[k].inX {
				rx += rank
			}
		}
		ties += t*t*t - t
		i = j
	}
	u := rx - n1*(n1+1)/2
	mu := n1 * n2 / 2
	variance := n1 * n2 / 12 * ((n + 1) - ties/(n*(n-1)))
	if variance <= 0 {
		return MannWhitney{U: u, Greater: 1, TwoSided: 1}
	}
	sd := math.Sqrt(variance)
	d := u - mu
	// The continuity correction moves U half a step towards the mean.
	greater := 1 - NormalCDF((d-0.5)/sd)
	two := 2 * (1 - NormalCDF((math.Abs(d)-0.5)/sd))
	return MannWhitney{U: u, Z: d / sd, Greater: clamp01(greater), TwoSided: clamp01(two)}
}

// TwoProportions is a one-sided two-proportion z-test: is the rate
// k1/n1 higher than k2/n2? It returns the pooled z score and the p-value.
// With no events in either sample (or no spread) the p-value is 1.
func TwoProportions(k1, n1, k2, n2 float64) (z, p float64) {
	if n1 <= 0 || n2 <= 0 {
		return 0, 1
	}
	pool := (k1 + k2) / (n1 + n2)
	se := math.Sqrt(pool * (1 - pool) * (1/n1 + 1/n2))
	if se == 0 {
		return 0, 1
	}
	z = (k1/n1 - k2/n2) / se
	return z, clamp01(1 - NormalCDF(z))
}

// AboveRate is a one-sided test of a rate against a fixed limit: is the
// true rate of k events in n above limit? (normal approximation of the
// binomial, used on the preview, where there is no old color to compare).
func AboveRate(k, n, limit float64) (z, p float64) {
	if n <= 0 || limit <= 0 || limit >= 1 {
		return 0, 1
	}
	se := math.Sqrt(limit * (1 - limit) / n)
	z = (k/n - limit) / se
	return z, clamp01(1 - NormalCDF(z))
}

// Median of xs (the mean of the middle two for an even count); 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// Mean of xs; 0 for none.
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	t := 0.0
	for _, x := range xs {
		t += x
	}
	return t / float64(len(xs))
}

func clamp01(p float64) float64 { return math.Max(0, math.Min(1, p)) }

// BinomialTail is P(X ≥ k) for X ~ Binomial(n, p), summed exactly from k
// upward (the terms fall past the mode, so the sum stops once they no
// longer count).
func BinomialTail(k, n int, p float64) float64 {
	switch {
	case k <= 0:
		return 1
	case k > n || p <= 0:
		return 0
	case p >= 1:
		return 1
	}
	if float64(k) <= float64(n)*p {
		// At or below the mean the tail is at least about one half: the
		// complement is summed instead, downward from k-1.
		return clamp01(1 - binomialHead(k-1, n, p))
	}
	lp, lq := math.Log(p), math.Log1p(-p)
	sum := 0.0
	for i := k; i <= n; i++ {
		t := math.Exp(logChoose(n, i) + float64(i)*lp + float64(n-i)*lq)
		sum += t
		if t < sum*1e-15 {
			break
		}
	}
	return clamp01(sum)
}

// binomialHead is P(X ≤ k), summed downward from k.
func binomialHead(k, n int, p float64) float64 {
	lp, lq := math.Log(p), math.Log1p(-p)
	sum := 0.0
	for i := k; i >= 0; i-- {
		t := math.Exp(logChoose(n, i) + float64(i)*lp + float64(n-i)*lq)
		sum += t
		if t < sum*1e-15 && float64(i) < float64(n)*p {
			break
		}
	}
	return clamp01(sum)
}

func logChoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// RateExcess is the exact one-sided test that the rate k1/n1 is higher
// than k2/n2, conditioned on the k1+k2 events seen: under equal rates
// each event falls in the first sample with probability n1/(n1+n2), so
// the p-value is a binomial tail. Unlike the z-test it holds its
// significance at the handful of errors a small step sees, and the
// planner looks every minute, so that matters.
func RateExcess(k1, n1, k2, n2 float64) float64 {
	if n1 <= 0 || n2 <= 0 {
		return 1
	}
	k := int(math.Round(k1 + k2))
	return BinomialTail(int(math.Round(k1)), k, n1/(n1+n2))
}
