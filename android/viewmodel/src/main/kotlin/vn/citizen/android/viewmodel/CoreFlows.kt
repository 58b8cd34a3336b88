package vn.citizen.android.viewmodel

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import vn.citizen.core.CitizenCoreInterface
import vn.citizen.core.CoreStatus
import vn.citizen.core.OutboxItem
import vn.citizen.core.OutboxListener
import vn.citizen.core.ServicesClientInterface
import vn.citizen.core.StatusListener

/**
 * The core's subscriptions as cold [Flow]s: collecting subscribes (the current state comes
 * first), cancelling the collector cancels the subscription, and the flow completes when the
 * core is shut down or closed. Every notification is kept, in order (the core calls the
 * listener one notification at a time); collect with `conflate()` or `stateIn` for a screen.
 */
fun ServicesClientInterface.outboxFlow(): Flow<List<OutboxItem>> = callbackFlow {
    val subscription = observeOutbox(object : OutboxListener {
        override fun onOutbox(items: List<OutboxItem>) {
            trySend(items)
        }

        override fun onEnd() {
            channel.close()
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(Channel.UNLIMITED)

/** The core's status (login, logout, enrollment, session expired, device deactivated), as [outboxFlow]. */
fun CitizenCoreInterface.statusFlow(): Flow<CoreStatus> = callbackFlow {
    val subscription = observeStatus(object : StatusListener {
        override fun onStatus(status: CoreStatus) {
            trySend(status)
        }

        override fun onEnd() {
            channel.close()
        }
    })
    awaitClose { subscription.cancel() }
}.buffer(Channel.UNLIMITED)
