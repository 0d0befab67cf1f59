/**
 * Every exception the library throws, under one root, {@link
 * dev.durabledeploy.spi.exception.DurableDeployException} (unchecked). What a caller does with
 * each:
 *
 * <ul>
 *   <li>Bad input or configuration, fixed by the caller: {@link
 *       dev.durabledeploy.spi.exception.InvalidInputException} and {@link
 *       dev.durabledeploy.spi.exception.ConfigurationException} (both name the field or property).
 *   <li>A refusal by the deploy plane's rules, answered from the current state: {@link
 *       dev.durabledeploy.spi.exception.DeployNotFoundException}, {@link
 *       dev.durabledeploy.spi.exception.DeployStateException}, {@link
 *       dev.durabledeploy.spi.exception.DeployAliasedException}, {@link
 *       dev.durabledeploy.spi.exception.AliasDriftException} (carries the current alias), {@link
 *       dev.durabledeploy.spi.exception.TombstoneExpiredException}.
 *   <li>Not permitted, whatever the state: {@link
 *       dev.durabledeploy.spi.exception.AccessDeniedException}, the host's {@link
 *       dev.durabledeploy.spi.Authorizer} refused the actor the action (answer 403); nothing was
 *       changed.
 *   <li>Try again later: {@link dev.durabledeploy.spi.exception.TransientStoreException} (and its
 *       {@link dev.durabledeploy.spi.exception.SiteLockLostException}), {@link
 *       dev.durabledeploy.spi.exception.SiteBusyException}, {@link
 *       dev.durabledeploy.spi.exception.EngineUnavailableException}, {@link
 *       dev.durabledeploy.spi.exception.RemoteCallException} where its status is transient, {@link
 *       dev.durabledeploy.spi.exception.RepoCloneException} (answer 503).
 *   <li>Stopped, or given up for this run: {@link
 *       dev.durabledeploy.spi.exception.EngineNotRunningException}, {@link
 *       dev.durabledeploy.spi.exception.BatchAbortedException}.
 * </ul>
 *
 * Messages never contain a credential (docs/invariants.md I2). Exceptions that belong to one
 * adapter's data stay with it ({@code spi.blob.BlobExistsException}, the core's upload and manifest
 * refusals, PostgreSQL's migration errors).
 */
package dev.durabledeploy.spi.exception;
