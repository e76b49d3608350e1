"""The pixel pipeline: decode, modality LUT, VOI LUT, presentation, display mapping.

Qt-free.  The order is the one of PS3.4 N.2 (grayscale) and C.7.6.3 (color):
stored values -> modality LUT (rescale or LUT) -> VOI (window or VOI LUT) ->
presentation LUT (MONOCHROME1 / INVERSE) -> 8-bit display values.

Entry points:

* :func:`pacsadmin.core.imaging.loader.load_image` reads a file and checks its geometry;
* :func:`pacsadmin.core.imaging.decode.decode_frame` returns one frame's stored values
  (compressed frames decode in a worker process with a time limit);
* :class:`pacsadmin.core.imaging.pipeline.FramePipeline` holds what to apply to a frame and
  describes it (:class:`~pacsadmin.core.imaging.pipeline.PipelineDescription`);
* :mod:`pacsadmin.core.imaging.display` maps stored values to uint8 through a lookup table;
* :func:`pacsadmin.core.imaging.render.render` does all of it for the CLI and the viewer;
* :mod:`pacsadmin.core.imaging.series` groups, sorts and checks series.
"""
