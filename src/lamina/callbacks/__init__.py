"""Callbacks: hooks the fit / evaluate / predict loops call, with Keras's names."""
from lamina.callbacks.backup_and_restore import BackupAndRestore as BackupAndRestore
from lamina.callbacks.base import Callback as Callback
from lamina.callbacks.base import CallbackList as CallbackList
from lamina.callbacks.early_stopping import EarlyStopping as EarlyStopping
from lamina.callbacks.freezing import FreezeSchedule as FreezeSchedule
from lamina.callbacks.freezing import GradualUnfreezing as GradualUnfreezing
from lamina.callbacks.history import History as History
from lamina.callbacks.learning_rate import LearningRateScheduler as LearningRateScheduler
from lamina.callbacks.learning_rate import ReduceLROnPlateau as ReduceLROnPlateau
from lamina.callbacks.logging import CSVLogger as CSVLogger
from lamina.callbacks.logging import LambdaCallback as LambdaCallback
from lamina.callbacks.logging import TerminateOnNaN as TerminateOnNaN
from lamina.callbacks.model_checkpoint import ModelCheckpoint as ModelCheckpoint
from lamina.callbacks.progbar import ProgbarLogger as ProgbarLogger
from lamina.callbacks.tensorboard import TensorBoard as TensorBoard
