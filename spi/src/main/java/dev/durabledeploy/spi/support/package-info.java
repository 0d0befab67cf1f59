/**
 * Small helpers shared by the library's modules and by third-party adapters: one thread factory and
 * shutdown routine ({@link dev.durabledeploy.spi.support.Threads}) and one validator of builder
 * settings ({@link dev.durabledeploy.spi.support.Config}), and the rules every metadata store runs
 * a unit of work under ({@link dev.durabledeploy.spi.support.UnitsOfWork}). They live in {@code
 * spi} because adapters depend on nothing else; a host has no need to call them.
 */
package dev.durabledeploy.spi.support;
