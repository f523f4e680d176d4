"""What every column and flag of an audit's tables means, in one place.

Reports, the README and notebooks quote these texts; a test checks that every column the
engine writes and every flag it sets is described here.
"""

from __future__ import annotations

#: Columns of ``AuditResult.table`` (metrics.csv).
COLUMN_HELP: dict[str, str] = {
    "grouping": "the grouping: one column, or an intersection joined by ' × '",
    "group": "the group's label",
    "group_name": "the group's name where its label is a country code (experiment runs "
                  "only; the code stays in group)",
    "metric": "n (group size), a rate (selection_rate, fpr, ...), auc or ece",
    "value": "the metric's value in the group; NaN where undefined (see flags)",
    "ci_low": "lower end of the value's interval (Wilson for rates; Hanley-McNeil for AUC; "
              "bootstrap of the counts for ECE)",
    "ci_high": "upper end of the value's interval",
    "numerator": "count behind a rate's numerator",
    "denominator": "count behind a rate's denominator (people the rate is over)",
    "reference": "the reference group of the grouping",
    "reference_name": "the reference group's name where its label is a country code "
                      "(experiment runs only)",
    "difference": "value minus the reference group's value",
    "diff_ci_low": "lower end of the difference's interval: Newcombe's hybrid score interval "
                   "(closed form, given with zero events)",
    "diff_ci_high": "upper end of the difference's interval",
    "ratio": "value over the reference group's value",
    "ratio_ci_low": "lower end of the ratio's interval: MOVER-R on score limits (closed form, "
                    "given with zero events)",
    "ratio_ci_high": "upper end of the ratio's interval; inf where the reference rate is 0 "
                     "(flag unbounded)",
    "sim_diff_ci_low": "lower end of the difference's simultaneous interval: Bonferroni over "
                       "the grouping's groups, for a group picked afterwards as the most "
                       "extreme",
    "sim_diff_ci_high": "upper end of the simultaneous difference interval",
    "sim_ratio_ci_low": "lower end of the simultaneous ratio interval",
    "sim_ratio_ci_high": "upper end of the simultaneous ratio interval",
    "detectable_difference": "the smallest rise above the reference rate this audit would "
                             "detect with 80% power at the group's size",
    "detectable_ratio": "the same, as a ratio to the reference rate",
    "design_effect": "how much clustering (rows of one author or person) inflates the "
                     "rate's variance; 1 without clusters",
    "p_value": "two-sided test of the group's rate against the reference's (z-test, or "
               "Fisher's exact test with expected counts under 5)",
    "p_holm": "p_value adjusted over the grouping's groups (Holm: family-wise error)",
    "p_bh": "p_value adjusted over the grouping's groups (Benjamini-Hochberg: false "
            "discovery rate)",
    "flags": "the notes below, joined by ';'",
}

#: Columns of ``AuditResult.summary`` (summary.csv).
SUMMARY_HELP: dict[str, str] = {
    "measure": "overall, max_min_difference, min_max_ratio, equalized_odds_difference, "
               "equalized_odds_ratio, demographic_parity_difference or _ratio",
    "value": "the measure over the groups compared",
    "ci_low": "lower end: for spreads, a projection of simultaneous score intervals of every "
              "compared group (conservative; always contains the value)",
    "ci_high": "upper end of the same interval",
    "bias": "bootstrap estimate of the spread's bias from chance (a max-min gap over many "
            "noisy groups is too large on average)",
    "groups_compared": "groups whose rate rests on at least min_count people",
    "groups_left_out": "groups left out as too small (their rates would decide the spread "
                       "alone and could disclose suppressed cells) or as withheld",
}

#: Columns of ``AuditResult.adjusted`` (adjusted.csv; see :mod:`audit.adjusted`).
ADJUSTED_HELP: dict[str, str] = {
    "grouping": "the single-column grouping compared within strata",
    "group": "the group's label",
    "reference": "the grouping's reference group (as in metrics.csv)",
    "metric": "the rate compared (selection_rate, fpr, fnr, ...)",
    "view": "which outcome the rates are measured against: the y_true column's name unless "
            "adjust_view names it",
    "adjust_for": "the stratifying columns, crossed and joined by ' × '",
    "strata_used": "strata where both the group and the reference have someone in the "
                   "rate's denominator",
    "strata_left_out": "strata where either side has no one in the rate's denominator; "
                       "left out of every adjusted estimate",
    "strata_left_out_names": "those strata's labels, joined by '; '",
    "n_group": "people in the group's denominator of the rate, over every stratum",
    "n_reference": "the same for the reference",
    "group_rate": "the group's crude rate (equals value in metrics.csv)",
    "reference_rate": "the reference's crude rate",
    "crude_ratio": "group_rate over reference_rate",
    "adjusted_ratio": "Mantel-Haenszel risk ratio over the common strata: the gap with the "
                      "stratum mix held equal",
    "adjusted_ratio_ci_low": "lower end of its interval (Greenland-Robins variance of the "
                             "log; MOVER-R on score limits where a side has no events)",
    "adjusted_ratio_ci_high": "upper end of the adjusted ratio's interval",
    "adjusted_odds_ratio": "Mantel-Haenszel odds ratio over the common strata",
    "crude_diff": "group_rate minus reference_rate (equals difference in metrics.csv)",
    "adjusted_diff": "Mantel-Haenszel risk difference over the common strata",
    "adjusted_diff_ci_low": "lower end of its interval (Sato's variance, with the asymmetry "
                            "of score limits: MOVER-D)",
    "adjusted_diff_ci_high": "upper end of the adjusted difference's interval",
    "standardised_rate": "the group's rate had it the reference's stratum mix (direct "
                         "standardisation over the common strata)",
    "standardised_ci_low": "lower end of its Wilson interval on the effective number of "
                           "people",
    "standardised_ci_high": "upper end of the standardised rate's interval",
    "composition_part": "the part of crude_diff due to who is in each group (stratum mix; "
                        "Kitagawa)",
    "composition_ci_low": "lower end of its interval (delta method, multinomial counts)",
    "composition_ci_high": "upper end of the composition part's interval",
    "within_part": "the part of crude_diff due to different rates within strata; with "
                   "composition_part it adds up to crude_diff",
    "within_ci_low": "lower end of its interval (delta method, multinomial counts)",
    "within_ci_high": "upper end of the within-stratum part's interval",
    "one_sided_part": "the share of composition_part from strata only one side occupies "
                      "(there is no within-stratum difference to measure there)",
    "composition_share": "composition_part over crude_diff; NaN where crude_diff is 0",
    "homogeneity_p": "p-value of Cochran's Q test that the risk ratio is the same in every "
                     "stratum",
    "design_effect": "the larger of the group's and the reference's design effects (1 "
                     "without clusters); variances are multiplied by it",
    "flags": "the notes below, joined by ';'",
}

#: Flags the engine sets, and what each means for a reader.
FLAG_HELP: dict[str, str] = {
    "reference": "the reference group",
    "undefined": "nobody in the rate's denominator: the rate does not exist (never 0)",
    "small_n": "fewer than min_count (30) people behind the rate: read with care",
    "suppressed": "fewer than suppress_below (10) people: withheld from every output",
    "complementary": "withheld beside a suppressed group so that no subtraction (a total "
                     "minus the published groups, in one grouping or across an intersection "
                     "and its columns) gives the suppressed group back; see SUPPRESSION_RULE",
    "ratio_undefined": "the reference rate is 0, so the ratio is not a number",
    "unbounded": "an interval end is infinite: the data set no limit on that side",
    "inconclusive": "the ratio's interval holds both parity (1) and the four-fifths boundary "
                    "(0.8 or 1.25): the data cannot tell whether the group is treated alike",
    "four_fifths": "selection rate below 0.8 or above 1.25 times the reference's",
    "no_interval": "an interval that resampling cannot move, withheld rather than shown as "
                   "certain",
    "fewer_than_two_groups": "a spread needs two groups large enough to compare",
    "reference_withheld": "the reference group's figures are withheld (suppressed or "
                          "complementary), so no gap to it is published",
    "reference_undefined": "nobody in the reference's denominator of the rate: no comparison",
    "no_common_stratum": "no stratum holds people of both the group and the reference: the "
                         "data cannot tell composition from treatment, every adjusted figure "
                         "is NaN",
    "heterogeneous": "the homogeneity test rejects one common risk ratio (p < 0.05): the "
                     "adjusted ratio averages strata that differ",
    "share_undefined": "the crude difference is 0, so the composition share is not a number",
    "left_out_N_under_M": "N groups were left out of the spread: fewer than M people behind "
                          "the rate, or withheld (suppressed or complementary)",
}

#: The rule that keeps withheld cells withheld (implemented in :mod:`audit.disclosure`).
SUPPRESSION_RULE = (
    "A group of fewer than suppress_below (10) people is withheld whole, and a rate over "
    "fewer than 10 people is withheld. Then, in each grouping, the groups withheld whole "
    "must be none, or at least two whose sizes add up to 10 or more: while they are not, the "
    "next-smallest group is withheld whole too (the reference last), flagged "
    "`complementary`, so that the total minus the published groups gives back only a total "
    "over several groups and 10 or more people. When a grouping has no other group to "
    "withhold, or an overall rate rests on fewer than 10 people, the `overall` rows are "
    "withheld, in every grouping. Spreads across groups leave every withheld group out. The "
    "same rule applies to every table with group figures: metrics, summary, the paired "
    "comparisons, remedies, records, attribution and the headlines. Then every grouping is "
    "checked exactly against the others (country against region of origin, an "
    "intersection against its columns) and the overall rates: where all the published "
    "counts and rates together still give a withheld group's size or one of its "
    "outcome-by-decision counts, the smallest other group that computation uses is "
    "withheld whole too (or else an overall rate), until none does. A report names any "
    "groupings with too many combinations to check this way. Not protected: a rate "
    "withheld for its few people inside a published group can be computed from the "
    "group's other rates. A group's false positives are the count behind both its false "
    "positive rate (over its many people without the outcome) and its false discovery rate "
    "(over the few it selected): hiding the second exactly would withhold the first, the "
    "figure an audit of rare decisions exists to publish."
)

#: The one convention every report and the README follow for intervals that cannot be
#: printed as two numbers.
INTERVAL_CONVENTION = (
    "An interval with an infinite end (a ratio to a reference rate of 0, say) is flagged "
    "`unbounded` and printed with \"no upper bound\" (or \"no lower bound\") in place of that "
    "end; an interval that resampling cannot move is blanked, flagged `no_interval` and "
    "printed as \"withheld\". Neither is ever printed as a number, so no report shows an "
    "infinite or zero-width interval as if it were certain."
)

#: Columns of the fairlearn-style views of a result (see :mod:`audit.frame`).
VIEW_HELP: dict[str, str] = {
    "by_group": "one row per group (indexed by the grouping's columns), one column per "
                "metric, n first: the table's value column spread wide",
    "overall: value, ci_low, ci_high": "every rate over all rows, with its Wilson interval",
    "between_groups: value, ci_low, ci_high": "difference(): largest minus smallest rate; "
        "ratio(): smallest over largest; over the groups with at least min_count people "
        "behind the rate, with a conservative simultaneous interval (as in summary.csv)",
    "between_groups: bias, groups_compared, groups_left_out": "as in summary.csv",
    "to_reference: group, reference": "the group farthest from the reference group (by "
        "absolute difference, or by ratio on a log scale) among those with at least "
        "min_count people behind the rate, and that reference",
    "to_reference: value, ci_low, ci_high": "its difference or ratio to the reference, with "
        "the simultaneous interval (sim_diff_ci_* or sim_ratio_ci_*), as it was picked "
        "after looking",
    "to_reference: n, p_holm": "people behind the group's rate, and its Holm-adjusted p-value",
}

#: How the reports of ``bias-audit audit`` lay out a grouping's table.
REPORT_HELP: dict[str, str] = {
    "<rate> notes": "the flags of that rate alone (small_n, inconclusive, unbounded...): a "
                    "group whose false negative rate is inconclusive keeps a clear false "
                    "positive rate",
    "headline finding": "the comparison named with --focus (ordinary interval), or else the "
                        "most extreme gap (simultaneous interval), with its n",
}
