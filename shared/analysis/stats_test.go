package analysis

import (
	"math"
	"testing"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.12g, want %.12g (±%g)", what, got, want, tol)
	}
}

func TestNormalCDF(t *testing.T) {
	// Published values of the standard normal distribution function.
	near(t, "Φ(0)", NormalCDF(0), 0.5, 1e-15)
	near(t, "Φ(1.96)", NormalCDF(1.96), 0.9750021048517795, 1e-12)
	near(t, "Φ(-1)", NormalCDF(-1), 0.15865525393145707, 1e-12)
	near(t, "Φ(3)", NormalCDF(3), 0.9986501019683699, 1e-12)
}

func TestMannWhitneyScipyReference(t *testing.T) {
	// scipy.stats.mannwhitneyu's documented example (Conover's): U1 = 17,
	// and with method="asymptotic" the two-sided p-value 0.11134688653314041.
	males := []float64{19, 22, 16, 29, 24}
	females := []float64{20, 11, 17, 12}
	mw := MannWhitneyU(males, females)
	near(t, "U", mw.U, 17, 0)
	near(t, "two-sided p", mw.TwoSided, 0.11134688653314041, 1e-12)
	// One-sided is half of it here (U lies above its mean).
	near(t, "greater p", mw.Greater, 0.11134688653314041/2, 1e-12)
	// The other way round: U2 = n1·n2 − U1 = 3, and "greater" is not
	// supported by the data.
	rev := MannWhitneyU(females, males)
	near(t, "U2", rev.U, 3, 0)
	if rev.Greater < 0.9 {
		t.Errorf("females > males: p = %g, want ≥ 0.9", rev.Greater)
	}
}

// The tie correction must give U the variance it really has: with ties,
// the exact permutation variance of U, enumerated over every way of
// choosing which pooled values are x's.
func TestMannWhitneyTieCorrectionIsExactVariance(t *testing.T) {
	pooled := []float64{1, 1, 2, 2, 2, 3, 4, 4}
	n1 := 3
	var us []float64
	var pick func(start int, chosen []int)
	pick = func(start int, chosen []int) {
		if len(chosen) == n1 {
			in := map[int]bool{}
			for _, c := range chosen {
				in[c] = true
			}
			var x, y []float64
			for i, v := range pooled {
				if in[i] {
					x = append(x, v)
				} else {
					y = append(y, v)
				}
			}
			us = append(us, MannWhitneyU(x, y).U)
			return
		}
		for i := start; i < len(pooled); i++ {
			pick(i+1, append(chosen, i))
		}
	}
	pick(0, nil)
	m, v := 0.0, 0.0
	for _, u := range us {
		m += u
	}
	m /= float64(len(us))
	for _, u := range us {
		v += (u - m) * (u - m)
	}
	v /= float64(len(us))
	near(t, "mean U", m, 3*5/2.0, 1e-9)
	// The formula's variance, recovered from one test's z and U.
	x, y := []float64{4, 4, 3}, []float64{1, 1, 2, 2, 2}
	mw := MannWhitneyU(x, y)
	formula := math.Pow((mw.U-m)/mw.Z, 2)
	near(t, "tie-corrected variance", formula, v, 1e-9)
	// Without the correction it would be n1·n2(n+1)/12 = 11.25, larger.
	if v >= 11.25 {
		t.Fatalf("the sample has no effective ties: variance %g", v)
	}
}

func TestMannWhitneyAllEqual(t *testing.T) {
	mw := MannWhitneyU([]float64{5, 5, 5}, []float64{5, 5})
	if mw.Greater != 1 || mw.TwoSided != 1 {
		t.Fatalf("no spread must give p = 1, got %+v", mw)
	}
	if e := MannWhitneyU(nil, []float64{1}); e.Greater != 1 {
		t.Fatalf("an empty sample must give p = 1, got %+v", e)
	}
}

func TestTwoProportions(t *testing.T) {
	// R: prop.test(c(20, 10), c(1000, 1000), correct = FALSE,
	// alternative = "greater") gives X-squared = 3.3841, p-value = 0.03292;
	// the z-test's z is the square root of that statistic.
	z, p := TwoProportions(20, 1000, 10, 1000)
	near(t, "z²", z*z, 3.3841, 1e-4)
	near(t, "p", p, 0.03292, 1e-5)
	if _, p := TwoProportions(0, 1000, 0, 1000); p != 1 {
		t.Errorf("no events at all: p = %g, want 1", p)
	}
	if _, p := TwoProportions(5, 0, 1, 10); p != 1 {
		t.Errorf("no requests: p = %g, want 1", p)
	}
}

func TestAboveRate(t *testing.T) {
	// 30 errors in 1000 requests against a 1% limit: z = 0.02/√(0.0099/1000).
	z, p := AboveRate(30, 1000, 0.01)
	near(t, "z", z, 0.02/math.Sqrt(0.01*0.99/1000), 1e-12)
	if p > 1e-9 {
		t.Errorf("p = %g, want tiny", p)
	}
	if _, p := AboveRate(5, 1000, 0.01); p < 0.9 {
		t.Errorf("0.5%% against a 1%% limit: p = %g, want ≥ 0.9", p)
	}
}

func TestMedianMean(t *testing.T) {
	near(t, "median odd", Median([]float64{3, 1, 2}), 2, 0)
	near(t, "median even", Median([]float64{4, 1, 3, 2}), 2.5, 0)
	near(t, "mean", Mean([]float64{1, 2, 3, 6}), 3, 0)
	near(t, "empty", Median(nil)+Mean(nil), 0, 0)
}

func TestBinomialTail(t *testing.T) {
	// P(X ≥ 8), X ~ Bin(10, ½) = (45 + 10 + 1) / 1024.
	near(t, "P(X≥8)", BinomialTail(8, 10, 0.5), 56.0/1024, 1e-12)
	// P(X ≥ 3), X ~ Bin(10, ½) = 1 − (1 + 10 + 45)/1024 (the complement path).
	near(t, "P(X≥3)", BinomialTail(3, 10, 0.5), 1-56.0/1024, 1e-12)
	// P(X ≥ 2), X ~ Bin(5, 0.1) = 1 − 0.9⁵ − 5·0.1·0.9⁴ = 0.08146.
	near(t, "P(X≥2)", BinomialTail(2, 5, 0.1), 0.08146, 1e-12)
	near(t, "k=0", BinomialTail(0, 5, 0.3), 1, 0)
	near(t, "k>n", BinomialTail(6, 5, 0.3), 0, 0)
	// Large n: against the normal approximation far in the tail's body.
	got := BinomialTail(5500, 10000, 0.5)
	if got > 1e-20 || got <= 0 {
		t.Errorf("P(X≥5500 | Bin(10000, ½)) = %g, want tiny and positive", got)
	}
}

func TestRateExcess(t *testing.T) {
	// 10 errors in 1000 against 10 in 9000: given 20 errors, each lands
	// in the first sample with probability 0.1.
	near(t, "p", RateExcess(10, 1000, 10, 9000), BinomialTail(10, 20, 0.1), 0)
	if p := RateExcess(10, 1000, 90, 9000); p < 0.4 {
		t.Errorf("equal rates: p = %g", p)
	}
	if p := RateExcess(0, 100, 0, 100); p != 1 {
		t.Errorf("no errors: p = %g, want 1", p)
	}
}
