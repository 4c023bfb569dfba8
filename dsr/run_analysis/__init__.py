"""``dsr analyze``: the invariants of a trained model, of its ground truth, and their comparison.

This package reads run stores and writes the analysis groups; the numerical kernels it calls
(spectra, dimensions, cycles, symbolic codes on plain arrays) are :mod:`dsr.analysis`.

For a run store, one member of a checkpoint (default: the best checkpoint's best member) is
analysed through its Numba face (`dsr.analysis.pwl`, built from the parameter Dataset, no torch):
Lyapunov spectrum (per time unit, with the data's dt), Kaplan–Yorke and correlation dimension,
fixed points and cycles up to ``order``, and the symbolic code of a long free run with each used
region's fixed point. The ground truth is the true system when the data came from
``dsr simulate`` (store attrs ``system``, ``params``, ``dt``): its spectrum, dimensions and fixed
points; otherwise the data itself (λ1 by Rosenstein's method, `dsr.analysis.series_lyapunov`, and
the correlation dimension). The comparison gives the relative
error of λ_max, the sign patterns of the spectra, the dimension differences, and the distance from
each true fixed point to the nearest real fixed point of the model.

Coordinates: the model lives in the standardized coordinates of its training data. Exponents and
dimensions do not change under that affine map; correlation dimensions of model and truth are
both computed on standardized observations. Points are reported latent, observed (standardized)
and in the data's units.

Run-store groups (``analysis/<name>``; the settings in each group's attrs):
- ``lyapunov``: ``exponents`` (exponent), ``spread``, ``drift``, ``per_initial_condition``
  (initial_condition, exponent), ``running`` (initial_condition, record, exponent), ``time``
  (record); the truth's spectrum as ``truth`` (truth_exponent); estimated from data, λ1 alone with
  its divergence curve ``truth_divergence`` (truth_divergence_time) and the method in attrs ``truth_*``.
- ``dimensions``: 0-d ``kaplan_yorke``, ``correlation_dimension``, ``fit_low``, ``fit_high``,
  ``correlation_sum`` (radius); the truth's as ``truth_kaplan_yorke``, ``truth_correlation_dimension``.
- ``cycles``: per cycle ``order``, ``real``, ``stable``, ``type``, ``max_abs_eigenvalue``,
  ``eigenvalue_real``/``eigenvalue_imag`` (cycle, eigen); per orbit point, padded with NaN to the
  longest orbit: ``points`` (cycle, step, variable; observed, standardized), ``points_data`` (data
  units), ``points_latent`` (cycle, step, latent), ``regions`` (cycle, step, bit).
- ``symbolic``: ``label`` (time); per region ``pattern``, ``frequency``, ``dwell``, ``episodes``, the
  fixed point of its affine map (``fixed_point_latent``, ``fixed_point_data``, ``fixed_point_real``,
  ``fixed_point_type``, ``fixed_point_max_abs_eigenvalue``); per observed transition between
  successive distinct regions ``transition_from``, ``transition_to``, ``transition_count``,
  ``transition_probability`` (transition; sparse, since wide models visit ~10⁴ regions);
  ``block_entropy``; attrs used, possible, entropy_rate, mediators.
- ``truth`` (when the data came from a system): its ``fixed_points_data`` (fixed_point, variable),
  eigenvalues and types, with the system and parameters in attrs.
- ``comparison``: the comparison table as 0-d variables.
"""

from __future__ import annotations

from dsr.run_analysis.api import analyze, analyze_command
from dsr.numba_face import numba_face
from dsr.run_analysis.printing import print_report
from dsr.run_analysis.settings import Settings

__all__ = ["Settings", "analyze", "analyze_command", "numba_face", "print_report"]
