"""The algorithms of docs/algorithms.md: hyperparameter schemas, papers and status tags, as data."""
from __future__ import annotations

from .registry import Algorithm, Param, register

LR = Param("lr", 0.1, "step size (gamma for SGD descent and AdaSAM, eta for the adaptive rules)",
           lo=0.0, lo_open=True, schedulable=True)
RHO = Param("rho", 0.05, "perturbation radius rho_t", lo=0.0, schedulable=True)
SAME = Param("same_sample", True, "ascent and descent gradients use the same sample S_t "
             "(False draws an independent S'_t for the descent)", kind="bool")
NORM_EPS = Param("norm_eps", 0.0, "added to ||s|| in the normalisation s/||s|| (0: exact, e = 0 when s = 0)", lo=0.0)
EPS = Param("eps", 1e-8, "adaptive accumulators start at eps^2 (eps_mode='init')", lo=0.0, lo_open=True)
EPS_MODE = Param("eps_mode", "init", "'init': eps only in the initial accumulator; 'add': eps added to sqrt(v)",
                 kind="choice", choices=("init", "add"))
B1 = Param("b1", 0.9, "first-moment decay", lo=0.0, hi=1.0, hi_open=True)
B2 = Param("b2", 0.999, "second-moment decay", lo=0.0, hi=1.0, hi_open=True)
BIAS = Param("bias_correction", False, "Adam bias correction (off: matches the SAM variants)", kind="bool")
LAM = Param("lam", 0.5, "Unified SAM lambda in [0, 1] (0: USAM, 1: SAM); a constant, (R,) array or "
            "Schedule('lambda_inv_t') / Schedule('lambda_one_minus_inv_t')", lo=0.0, hi=1.0, schedulable=True)
ETA_A = Param("eta_A", 0.01, "ASAM offset in T = |x| + eta_A", lo=0.0)
OPERATOR = Param("operator", "abs_plus_eta", "ASAM operator T: |x| + eta_A (official), |x|, or identity (= SAM)",
                 kind="choice", choices=("abs_plus_eta", "abs", "identity"))
PERTURB_WITH = Param("perturb_with", "momentum", "LightSAM-III perturbs along the first moment r_t "
                     "[reconstructed] or the raw gradient s", kind="choice", choices=("momentum", "gradient"))
V0 = Param("v0", "eps2", "AMSGrad's v_{-1}: eps^2 (spec base rule) or 0 (as inside AdaSAM)",
           kind="choice", choices=("eps2", "zero"))
ADASAM_V0 = Param("v0", "zero", "AdaSAM's v_{-1}: 0 (the spec, Sun et al.) or eps^2 (the public implementation "
                  "dimitris-oik/sam_sps)", kind="choice", choices=("zero", "eps2"))

SAM_PAPER = "Foret et al., Sharpness-Aware Minimization (ICLR 2021)"
UNIFIED_PAPER = "Oikonomou & Loizou, Sharpness-Aware Minimization: General Analysis and Improved Rates (ICLR 2025)"
ADASAM_PAPER = "Sun et al., AdaSAM: Boosting Sharpness-Aware Minimization with Adaptive Learning Rate and Momentum"
LIGHTSAM_PAPER = "Cheng et al., LightSAM: Parameter-Agnostic Sharpness-Aware Minimization"
LETS_PAPER = "Wang, Jiang, Fu & Zhang, Enhancing Sharpness-Aware Minimization by Learning Perturbation Radius (LETS, arXiv 2408.08222)"
ASAM_PAPER = "Kwon et al., ASAM: Adaptive Sharpness-Aware Minimization (ICML 2021)"

SAM_FAMILY = (LR, RHO, SAME, NORM_EPS)

register(Algorithm("sgd", "SGD", "Robbins & Monro (1951)", "confirmed", (LR,),
                   "x_{t+1} = x_t - gamma_t g_t.", equations="x+ = x - lr g", descent="sgd"))
register(Algorithm("adagrad_norm", "AdaGrad-Norm", "Ward, Wu & Bottou (2019)", "confirmed", (LR, EPS, EPS_MODE),
                   "v_t = v_{t-1} + ||g_t||^2, v_{-1} = eps^2; x_{t+1} = x_t - eta g_t / sqrt(v_t).",
                   descent="adagrad_norm"))
register(Algorithm("adagrad", "AdaGrad", "Duchi, Hazan & Singer (2011)", "confirmed", (LR, EPS, EPS_MODE),
                   "per-coordinate v_t = v_{t-1} + g_t*g_t, v_{-1} = eps^2 1; x_{t+1} = x_t - eta g_t / sqrt(v_t).",
                   descent="adagrad"))
register(Algorithm("adam", "Adam", "Kingma & Ba (2015)", "confirmed", (LR, B1, B2, EPS, EPS_MODE, BIAS),
                   "m_t = b1 m + (1-b1) g, v_t = b2 v + (1-b2) g*g, m_{-1} = 0, v_{-1} = eps^2; "
                   "x_{t+1} = x_t - eta m_t / sqrt(v_t) (bias correction optional, off by default).", descent="adam"))
register(Algorithm("amsgrad", "AMSGrad", "Reddi, Kale & Kumar (2018)", "confirmed", (LR, B1, B2, EPS, EPS_MODE, V0),
                   "Adam plus vhat_t = max(vhat_{t-1}, v_t), vhat_{-1} = eps^2; x_{t+1} = x_t - eta m_t / sqrt(vhat_t).",
                   descent="amsgrad"))
register(Algorithm("sam", "SAM", SAM_PAPER, "confirmed", SAM_FAMILY,
                   "s = grad_S(x_t); e = rho_t s/||s||; x_{t+1} = x_t - gamma_t grad_S(x_t + e).", base="sgd",
                   perturbation="sam", descent="sgd"))
register(Algorithm("usam", "USAM", "Andriushchenko & Flammarion (2022)", "confirmed", (LR, RHO, SAME),
                   "e = rho_t s (unnormalised); x_{t+1} = x_t - gamma_t grad_S(x_t + e).", base="sgd",
                   perturbation="usam", descent="sgd"))
register(Algorithm("unified_sam", "Unified SAM", UNIFIED_PAPER, "confirmed", SAM_FAMILY + (LAM,),
                   "e = rho_t ((1 - lambda) + lambda/||s||) s; x_{t+1} = x_t - gamma_t grad_S(x_t + e).", base="sgd",
                   perturbation="unified", descent="sgd"))
register(Algorithm("asam", "ASAM", ASAM_PAPER, "confirmed", SAM_FAMILY + (ETA_A, OPERATOR),
                   "T = |x_t| + eta_A; e = rho_t T*T*s/||T*s||; x_{t+1} = x_t - gamma_t grad_S(x_t + e).", base="sgd",
                   perturbation="asam", descent="sgd"))
register(Algorithm("adasam", "AdaSAM", ADASAM_PAPER, "confirmed",
                   (LR, RHO, SAME, NORM_EPS, B1, B2, EPS, ADASAM_V0),
                   "e = rho_t s/||s||; g = grad_S(x_t + e); m_t = b1 m + (1-b1) g; v_t = b2 v + (1-b2) g*g; "
                   "vhat_t = max(vhat, v_t); x_{t+1} = x_t - gamma_t m_t/sqrt(vhat_t); m_{-1} = v_{-1} = 0, "
                   "vhat_{-1} = eps^2 (v0='eps2': v_{-1} = eps^2).", base="amsgrad", extras=("step_min", "step_max"),
                   perturbation="sam", descent="adasam"))
register(Algorithm("lightsam1", "LightSAM-I (AdaGrad-Norm/AdaGrad-Norm)", LIGHTSAM_PAPER, "confirmed",
                   (LR, RHO, SAME, EPS),
                   "u_t = u + ||s||^2; w = x_t + rho s/sqrt(u_t); g = grad_S(w); v_t = v + ||g||^2; "
                   "x_{t+1} = x_t - eta g/sqrt(v_t); u_{-1} = v_{-1} = eps^2.", base="adagrad_norm",
                   extras=("eff_radius",), perturbation="lightsam1", descent="adagrad_norm"))
register(Algorithm("lightsam2", "LightSAM-II (AdaGrad/AdaGrad)", LIGHTSAM_PAPER, "third-party",
                   (LR, RHO, SAME, EPS),
                   "per-coordinate u_t = u + s*s, v_t = v + g*g, initial eps^2 in every coordinate.",
                   base="adagrad", extras=("eff_radius",), perturbation="lightsam2", descent="adagrad"))
register(Algorithm("lightsam3", "LightSAM-III (Adam/Adam)", LIGHTSAM_PAPER, "reconstructed",
                   (LR, RHO, SAME, B1, B2, EPS, PERTURB_WITH),
                   "r_t = b1 r + (1-b1) s; u_t = b2 u + (1-b2) s*s; w = x_t + rho r_t/sqrt(u_t); g = grad_S(w); "
                   "m_t, v_t as Adam; x_{t+1} = x_t - eta m_t/sqrt(v_t); r_{-1} = m_{-1} = 0, u_{-1} = v_{-1} = eps^2.",
                   base="adam", extras=("eff_radius",), perturbation="lightsam3", descent="adam"))

LETS_PARAMS = (
    LR,
    Param("rho", 0.05, "initial radius rho_0 (learned afterwards)", lo=0.0),
    Param("beta", 0.01, "hypergradient step on rho", lo=0.0),
    Param("hessian", "exact", "H in dx_{t+1}/drho = -eta H n_t: exact HVP, diag(g*g), identity, or Hutchinson "
          "diagonal estimate", kind="choice", choices=("exact", "diag_gn", "identity", "hutchinson")),
    Param("rho_constraint", "clamp0", "projection of rho: max(rho, 0), none, or rho = softplus(theta)",
          kind="choice", choices=("clamp0", "none", "softplus")),
    Param("rho_max", None, "optional cap rho_max_t on the learned radius (the theorem's kappa/sqrt(T))",
          kind="optional_real", lo=0.0, lo_open=True, schedulable=True),
    Param("order", "lower_first", "lower step then radius update (default), or radius update first",
          kind="choice", choices=("lower_first", "upper_first")),
    Param("fresh_train_batch", False, "the training loss in Delta uses a fresh batch S'_t instead of S_t", kind="bool"),
    NORM_EPS,
)
register(Algorithm("lets_sam", "LETS-SAM", LETS_PAPER, "reconstructed", LETS_PARAMS,
                   "lower SAM step with rho_t; Delta = L_val(x_{t+1}) - L_train(x_{t+1}); "
                   "rho_{t+1} = project(rho_t - beta Delta (grad L_val - grad L_train)^T dx_{t+1}/drho).",
                   base="sam", extras=("rho",), rule="lets"))
register(Algorithm("lets_asam", "LETS-ASAM", LETS_PAPER, "reconstructed", LETS_PARAMS + (ETA_A, OPERATOR),
                   "as LETS-SAM with the ASAM direction n_t = T*T*s/||T*s||.", base="asam", extras=("rho",),
                   rule="lets"))


def streams(name: str, hp: dict) -> tuple[str, ...]:
    """The sample streams one step of ``name`` consumes: "S" (S_t), "S2" (an independent S'_t for the
    descent when same_sample=False, or LETS's fresh training batch), "V" (LETS validation batch),
    "Z" (Rademacher probe of the Hutchinson estimator)."""
    out = ["S"]
    if name.startswith("lets"):
        if hp.get("fresh_train_batch"):
            out.append("S2")
        out.append("V")
        if hp.get("hessian") == "hutchinson":
            out.append("Z")
    elif hp.get("same_sample") is False:
        out.append("S2")
    return tuple(out)
