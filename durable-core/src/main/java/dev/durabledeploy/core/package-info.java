/**
 * The deploy sagas implemented once on the SPI: deploy lifecycle, alias projection, retention GC,
 * reconciler, outbox relay, job recovery and the {@code DurableDeploy} assembly. Filled by the core
 * issues; this module exists now so the reactor and its architecture rules are in place.
 */
package dev.durabledeploy.core;
