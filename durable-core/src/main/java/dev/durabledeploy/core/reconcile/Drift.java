package dev.durabledeploy.core.reconcile;

/**
 * One disagreement.
 *
 * @param subject the deploy id, alias or prefix it is about
 * @param detail what was seen, for a human
 */
public record Drift(DriftKind kind, String subject, String detail) {}
