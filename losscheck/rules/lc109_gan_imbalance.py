"""LC109 gan-imbalance."""

from __future__ import annotations

from losscheck.model import RemedyVote
from losscheck.rules._evidence import fmt, unit_word
from losscheck.rules.interface import Rule, RuleContext


class GanImbalance(Rule):
    code = "LC109"
    name = "gan-imbalance"
    severity = "error"
    summary = ("A GAN's game is lost by one player: the discriminator's loss collapses to ~0 while the "
               "generator's rises (or the reverse).")
    what = ("The run logs a generator and a discriminator loss (G_loss/D_loss, loss_G/loss_D, "
            "Generator_loss/Discriminator_loss, errG/errD...). Over the run, the median of the last fifth "
            "of one loss falls below 25% of its starting level (the median of its first 5%) and below 0.1, while the other loss rises by "
            "half or more. The onset is where the collapsing loss's running median first falls below half "
            "its early level.")
    why = ("At the GAN equilibrium the discriminator cannot tell real from fake (its BCE ~ 2 ln 2, the "
           "generator's ~ ln 2). A discriminator whose loss reaches ~0 separates them perfectly: the "
           "generator's gradients vanish or turn unstable and it stops improving, often collapsing to a few "
           "modes. A generator loss at ~0 with a rising discriminator loss means the discriminator stopped "
           "learning, so the generator is optimising noise. Either way the generator's rising loss is not "
           "a learning-rate divergence, and lowering both learning rates alike rarely fixes it.")
    fix = ("Ranks `gan_balance` first (a slower discriminator: its LR 2-4x below the generator's, two "
           "time-scale update rule; one-sided label smoothing 0.9; spectral normalisation or a gradient "
           "penalty of 10 on the discriminator; fewer discriminator steps per generator step), then "
           "`rollback` to the last checkpoint before the onset.")
    how = ("Medians of the first 5% and the last fifth of each curve; thresholds from the equilibrium levels "
           "(Goodfellow et al. 2014), not fitted. Critic losses below 0 (WGAN) are not judged.")
    example = ("generator loss G_loss rose x6.2 (0.71 -> 4.4) while discriminator loss D_loss fell to 0.0031 "
               "(from 0.68) from epoch 12: the discriminator wins")
    sources = ("Goodfellow et al. 2014, Generative adversarial nets",
               "Arjovsky & Bottou 2017, Towards principled methods for training GANs",
               "Salimans et al. 2016, Improved techniques for training GANs",
               "Heusel et al. 2017, GANs trained by a two time-scale update rule (TTUR)",
               "Miyato et al. 2018, Spectral normalization for GANs",
               "Gulrajani et al. 2017, Improved training of Wasserstein GANs")

    def check(self, ctx: RuleContext) -> list:
        ev = ctx.analysis.evidence
        winner = ev.get("gan_imbalance")
        g, d = ctx.run.get("loss"), ctx.run.get("disc_loss")
        if not winner or g is None or d is None:
            return []
        unit = unit_word(ctx)
        onset = ev.get("gan_onset_step")
        g0, g1, d0, d1 = ev["gan_g_early"], ev["gan_g_late"], ev["gan_d_early"], ev["gan_d_late"]
        if winner == "discriminator":
            msg = (f"generator loss {g.tag} rose x{g1 / g0:.3g} ({fmt(g0)} -> {fmt(g1)}) while discriminator "
                   f"loss {d.tag} fell to {fmt(d1)} (from {fmt(d0)})")
        else:
            msg = (f"generator loss {g.tag} fell to {fmt(g1)} (from {fmt(g0)}) while discriminator loss "
                   f"{d.tag} rose x{d1 / d0:.3g} ({fmt(d0)} -> {fmt(d1)})")
        msg += (f" from {unit} {onset}" if onset is not None else "") + f": the {winner} wins"
        lr = ctx.run.get("lr")
        settings: dict = {"label_smoothing": 0.9, "gradient_penalty": 10.0}
        if winner == "discriminator":
            settings["d_steps_per_g_step"] = 1
            if lr is not None and len(lr):
                settings["discriminator_lr"] = float(lr.values[-1]) / 4
        votes = [RemedyVote("gan_balance", 1.0, f"the {winner} wins the game", settings)]
        if onset is not None:
            before = ctx.analysis.facts.at(onset).rollback
            if before is not None:
                votes.append(RemedyVote("rollback", 0.5, f"last {unit} before the collapse is {before}",
                                        {f"resume_before_{unit}": before}))
        return [self.finding(msg, role="loss", step=onset, evidence={
            "winner": winner, "generator_tag": g.tag, "discriminator_tag": d.tag, "g_early": g0, "g_late": g1,
            "d_early": d0, "d_late": d1, "onset_step": onset}, remedies=votes)]


RULE = GanImbalance()
